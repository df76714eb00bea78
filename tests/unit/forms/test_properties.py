"""Properties of the form engine that hold for any input (hypothesis)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.forms import FIELD_TYPES, display_value, dump_values, load_values, parse_answer, validate
from tests.unit.forms.example import SHANGHAI, form_of, make_ctx

OPTIONS = ["产品质量", "服务态度", "物流问题", "其他"]
EXTRA: dict[str, dict[str, Any]] = {
    "select": {"options": OPTIONS},
    "multiselect": {"options": OPTIONS},
    "computed": {"formula": "1 + 1"},
    "file": {"multiple": True},
}
FORM = form_of(
    *({"key": f"f_{t}", "label": f"字段{t}", "type": t, **EXTRA.get(t, {})} for t in FIELD_TYPES)
)
CTX = make_ctx()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(kind=st.sampled_from(FIELD_TYPES), raw=st.text(max_size=60))
def test_any_text_never_crashes_parse_answer(kind: str, raw: str) -> None:
    value, problem = parse_answer(FORM, f"f_{kind}", raw, CTX)
    assert problem is None or (value is None and problem.message)


@fast
@given(kind=st.sampled_from(FIELD_TYPES), raw=json_values)
def test_any_json_value_never_crashes_parse_answer(kind: str, raw: Any) -> None:
    value, problem = parse_answer(FORM, f"f_{kind}", raw, CTX)
    assert problem is None or value is None


@fast
@given(raw=st.dictionaries(st.sampled_from([f"f_{t}" for t in FIELD_TYPES]), json_values))
def test_any_submission_never_crashes_validate(raw: dict[str, Any]) -> None:
    result = validate(FORM, raw, CTX)
    assert all(p.message for p in result.problems)


mobile = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
separators = st.sampled_from(["", " ", "-"])


@fast
@given(number=mobile, sep=separators, prefix=st.sampled_from(["", "+86 ", "0086", "86"]))
def test_phone_normalisation_is_idempotent(number: str, sep: str, prefix: str) -> None:
    written = f"{prefix}{number[:3]}{sep}{number[3:7]}{sep}{number[7:]}"
    value, problem = parse_answer(FORM, "f_phone", written, CTX)
    assert problem is None and value == number
    assert parse_answer(FORM, "f_phone", value, CTX) == (value, None)


typed_values = {
    "money": st.decimals(min_value=0, max_value=10**9, places=2).map(
        lambda d: d.quantize(Decimal("0.01"))
    ),
    "number": st.decimals(min_value=-(10**9), max_value=10**9, places=3),
    "date": st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)),
    "datetime": st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda d: d.replace(second=0, microsecond=0, tzinfo=SHANGHAI)
    ),
    "rating": st.integers(1, 5),
    "boolean": st.booleans(),
    "select": st.sampled_from(OPTIONS),
    "phone": mobile,
}


@fast
@given(data=st.data(), kind=st.sampled_from(sorted(typed_values)))
def test_displayed_values_read_back_as_the_same_value(data: st.DataObject, kind: str) -> None:
    value = data.draw(typed_values[kind])
    field = FORM.require(f"f_{kind}")
    assert parse_answer(FORM, field.key, display_value(field, value), CTX) == (value, None)


@fast
@given(data=st.data(), kind=st.sampled_from(sorted(typed_values)))
def test_typed_values_survive_parse_and_json(data: st.DataObject, kind: str) -> None:
    value = data.draw(typed_values[kind])
    key = f"f_{kind}"
    assert parse_answer(FORM, key, value, CTX) == (value, None)
    restored = load_values(FORM, json.loads(json.dumps(dump_values(FORM, {key: value}))))
    assert restored[key] == value


@fast
@given(
    index=st.integers(1, len(OPTIONS)), ordinal=st.sampled_from(["{}", "第{}个", "第{}项", "{}号"])
)
def test_a_choice_by_number_picks_that_option(index: int, ordinal: str) -> None:
    assert parse_answer(FORM, "f_select", ordinal.format(index), CTX) == (OPTIONS[index - 1], None)


@fast
@given(score=st.integers(1, 5), blanks=st.integers(0, 4))
def test_any_star_string_reads_as_its_filled_stars(score: int, blanks: int) -> None:
    stars = "★" * score + "☆" * min(blanks, 5 - score)
    assert parse_answer(FORM, "f_rating", stars, CTX) == (score, None)


@fast
@given(days=st.integers(-30, 30))
def test_relative_and_absolute_dates_agree(days: int) -> None:
    day = CTX.local_now.date() + timedelta(days=days)
    written = f"{day.year}年{day.month}月{day.day}日"
    assert parse_answer(FORM, "f_date", written, CTX) == (day, None)
