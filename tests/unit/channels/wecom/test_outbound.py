"""WeCom answers become the right SendResult; images are checked before they leave."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bot.channels.base import SendResult
from bot.channels.wecom.outbound import ImageRefused, invalid_users, load_image, outcome

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def test_errcode_zero_is_delivered_with_the_receipt_worth_keeping() -> None:
    result = outcome({"errcode": 0, "errmsg": "ok"}, what="card", response_code="rc", msgid=None)
    assert result == SendResult.delivered(response_code="rc")


@pytest.mark.parametrize("code", [45009, 45033])
def test_rate_limits_ask_the_relay_to_wait_a_minute(code: int) -> None:
    result = outcome({"errcode": code, "errmsg": "api freq out of limit"}, what="text")
    assert result.retry_after == 60 and not result.ok and not result.permanent


def test_a_token_refused_after_the_one_refresh_is_a_retryable_failure() -> None:
    result = outcome({"errcode": 42001, "errmsg": "access_token expired"}, what="text")
    assert not result.ok and not result.permanent and result.retry_after is None


@pytest.mark.parametrize("code", [60140, 81013, 40058, 42045])
def test_other_errors_are_permanent_and_name_the_code(code: int) -> None:
    result = outcome({"errcode": code, "errmsg": "bad"}, what="card_update")
    assert result.permanent and result.error is not None and str(code) in result.error


def test_invalid_users_reads_both_answer_shapes() -> None:
    assert invalid_users({"invaliduser": "a|b"}) == ["a", "b"]
    assert invalid_users({"invaliduser": ["a"]}) == ["a"]
    assert invalid_users({"invaliduser": ""}) == []


@pytest.mark.parametrize(("data", "kind"), [(PNG, "png"), (JPG, "jpg")])
async def test_png_and_jpg_under_the_data_dir_load_with_their_md5(
    tmp_path: Path, data: bytes, kind: str
) -> None:
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "weekly.img").write_bytes(data)
    image = await load_image(tmp_path, "charts/weekly.img", 2 * 1024 * 1024)
    assert image.kind == kind and image.data == data
    assert image.md5 == hashlib.md5(data).hexdigest()


async def test_other_file_types_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.gif").write_bytes(b"GIF89a" + b"\x00" * 10)
    with pytest.raises(ImageRefused, match="neither PNG nor JPG"):
        await load_image(tmp_path, "x.gif", 1024)


async def test_images_over_the_limit_are_refused(tmp_path: Path) -> None:
    (tmp_path / "big.png").write_bytes(PNG + b"\x00" * 2048)
    with pytest.raises(ImageRefused, match="over WeCom"):
        await load_image(tmp_path, "big.png", 1024)


async def test_paths_outside_the_data_dir_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(ImageRefused, match="outside the data dir"):
        await load_image(data_dir, "../secret.png", 1024)


async def test_missing_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageRefused, match="cannot read"):
        await load_image(tmp_path, "nope.png", 1024)
