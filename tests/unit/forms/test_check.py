"""check_form: each broken form gets its own English message at a path relative to the form."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.domain.directory import Directory
from bot.errors import ConfigProblem
from bot.forms import FormDefinition, check_form, field_names
from tests.unit.forms.example import (
    example_directory,
    example_document,
    example_form,
    form_of,
)

TYPE = {"key": "kind", "label": "投诉类型", "type": "select", "options": ["产品质量", "物流问题"]}
TEXT = {"key": "desc", "label": "问题描述", "type": "textarea"}


def problems(*fields: dict[str, Any]) -> list[ConfigProblem]:
    return check_form(form_of(*fields), directory=example_directory())


BROKEN = [
    pytest.param(
        [TYPE, {**TEXT, "visible_if": '类别 == "产品质量"'}],
        ("fields", 1, "visible_if"),
        "unknown field '类别' in '类别 == \"产品质量\"'",
        id="unknown-name-in-visible_if",
    ),
    pytest.param(
        [TYPE, {**TEXT, "visible_if": "kind =="}],
        ("fields", 1, "visible_if"),
        "at position",
        id="visible_if-syntax-error",
    ),
    pytest.param(
        [
            {"key": "n", "label": "数量", "type": "number"},
            {"key": "t", "label": "合计", "type": "computed", "formula": "数量们 * 2"},
        ],
        ("fields", 1, "formula"),
        "unknown field '数量们' (did you mean '数量'?) in '数量们 * 2'",
        id="unknown-name-in-formula",
    ),
    pytest.param(
        [TYPE, {**TEXT, "key": "kind"}],
        ("fields", 1, "key"),
        "duplicate field key 'kind' (also used by field 1)",
        id="duplicate-key",
    ),
    pytest.param(
        [TYPE, {**TEXT, "label": "投诉类型"}],
        ("fields", 1, "label"),
        "duplicate field label '投诉类型' (also used by field 1)",
        id="duplicate-label",
    ),
    pytest.param(
        [TYPE, {**TEXT, "label": "kind"}],
        ("fields", 1, "label"),
        "label 'kind' is the key of field 1; a name must mean one field",
        id="label-is-another-key",
    ),
    pytest.param(
        [{**TEXT, "key": "status"}],
        ("fields", 0, "key"),
        "field key 'status' is reserved: the service provides 'status' to conditions and "
        "templates; choose another name",
        id="reserved-key",
    ),
    pytest.param(
        [{**TEXT, "label": "now"}],
        ("fields", 0, "label"),
        "field label 'now' is reserved",
        id="reserved-label",
    ),
    pytest.param(
        [{**TEXT, "key": "问题"}],
        ("fields", 0, "key"),
        "field key '问题' must start with a letter",
        id="key-not-an-identifier",
    ),
    pytest.param(
        [{"key": "kind", "label": "类型", "type": "select"}],
        ("fields", 0, "options"),
        "a select field needs a list of options",
        id="select-without-options",
    ),
    pytest.param(
        [{**TYPE, "options": ["甲", "乙", "甲"]}],
        ("fields", 0, "options", 2),
        "duplicate option '甲'",
        id="duplicate-option",
    ),
    pytest.param(
        [{**TEXT, "options": ["甲"]}],
        ("fields", 0, "options"),
        "'options' applies to select and multiselect fields, not to a textarea field",
        id="options-on-text",
    ),
    pytest.param(
        [{**TYPE, "default": "服务态度"}],
        ("fields", 0, "default"),
        "default '服务态度' is not one of the options '产品质量', '物流问题'",
        id="select-default-not-an-option",
    ),
    pytest.param(
        [{**TYPE, "default": "1"}],
        ("fields", 0, "default"),
        "default '1' is not one of the options; write '产品质量'",
        id="select-default-by-number",
    ),
    pytest.param(
        [{"key": "code", "label": "编号", "type": "text", "pattern": "^[A-Z"}],
        ("fields", 0, "pattern"),
        "invalid regular expression '^[A-Z': unterminated character set",
        id="bad-regex",
    ),
    pytest.param(
        [{"key": "n", "label": "数量", "type": "number", "min": 10, "max": 5}],
        ("fields", 0, "min"),
        "min 10 is greater than max 5",
        id="min-above-max",
    ),
    pytest.param(
        [{**TEXT, "min_length": 50, "max_length": 10}],
        ("fields", 0, "min_length"),
        "min_length 50 is greater than max_length 10",
        id="min_length-above-max_length",
    ),
    pytest.param(
        [{"key": "t", "label": "合计", "type": "computed"}],
        ("fields", 0, "formula"),
        "a computed field needs a formula",
        id="computed-without-formula",
    ),
    pytest.param(
        [
            {"key": "a", "label": "甲", "type": "computed", "formula": "b + 1"},
            {"key": "b", "label": "乙", "type": "computed", "formula": "甲 + 1"},
        ],
        ("fields", 0, "formula"),
        "computed fields depend on each other in a cycle: a -> b -> a",
        id="formula-cycle",
    ),
    pytest.param(
        [{**TEXT, "visible_if": "问题描述 != null"}],
        ("fields", 0, "visible_if"),
        "visible_if of field 'desc' refers to the field itself",
        id="visible_if-on-itself",
    ),
    pytest.param(
        [{**TEXT, "formula": "1 + 1"}],
        ("fields", 0, "formula"),
        "'formula' applies to computed fields, not to a textarea field",
        id="formula-on-non-computed",
    ),
    pytest.param(
        [{"key": "f", "label": "附件", "type": "file", "accept": ["image", "pdf"]}],
        ("fields", 0, "accept", 1),
        "unknown attachment kind 'pdf'; expected one of image, video, voice, file",
        id="unknown-attachment-kind",
    ),
    pytest.param(
        [{"key": "p", "label": "电话", "type": "phone", "default": "12345"}],
        ("fields", 0, "default"),
        "default '12345' is not a valid phone (手机号格式不正确，请输入11位手机号)",
        id="default-of-wrong-shape",
    ),
    pytest.param(
        [{**TEXT, "default": "now"}],
        ("fields", 0, "default"),
        "'now' is a default for date and datetime fields, not textarea",
        id="now-default-on-text",
    ),
    pytest.param(
        [{**TEXT, "default": {"profil": "name"}}],
        ("fields", 0, "default"),
        "is not understood; write a constant, 'now' or {profile: <key>}",
        id="misspelt-profile-default",
    ),
    pytest.param(
        [{"key": "o", "label": "负责人", "type": "person", "default": "nobody"}],
        ("fields", 0, "default"),
        "default 'nobody' is not a valid person (没有找到“nobody”，请输入姓名或工号)",
        id="default-person-not-in-directory",
    ),
    pytest.param(
        [{**TEXT, "required": True, "ask": False}],
        ("fields", 0, "ask"),
        "required field 'desc' is never asked (ask: false) and has no default",
        id="required-but-never-asked",
    ),
    pytest.param(
        [{"key": "t", "label": "合计", "type": "computed", "formula": "1", "required": True}],
        ("fields", 0, "required"),
        "a computed field is never answered; remove 'required'",
        id="required-computed",
    ),
    pytest.param(
        [{**TEXT, "multiple": True}],
        ("fields", 0, "multiple"),
        "'multiple' applies to image and file fields, not to a textarea field",
        id="multiple-on-text",
    ),
]


@pytest.mark.parametrize(("fields", "path", "message"), BROKEN)
def test_broken_form_reports_its_problem(
    fields: list[dict[str, Any]], path: tuple, message: str
) -> None:
    found = problems(*fields)
    assert [p.path for p in found] == [path], found
    assert message in found[0].message


def test_an_empty_form_needs_fields() -> None:
    form = FormDefinition.model_validate({"title": "空表"})
    assert check_form(form, directory=Directory()) == [
        ConfigProblem(("fields",), "a form needs at least one field")
    ]


def test_every_problem_is_reported_not_just_the_first() -> None:
    found = problems({"key": "status", "label": "类型", "type": "select"}, {**TEXT, "pattern": "("})
    assert [p.path for p in found] == [
        ("fields", 0, "key"),
        ("fields", 0, "options"),
        ("fields", 1, "pattern"),
        ("fields", 1, "pattern"),
    ]


def test_problem_paths_can_be_prefixed_by_the_loader() -> None:
    found = problems({"key": "kind", "label": "类型", "type": "select"})
    assert found[0].under("forms", "complaint").path == (
        "forms",
        "complaint",
        "fields",
        0,
        "options",
    )


def test_the_example_form_loads_and_checks_clean() -> None:
    form = example_form()
    assert check_form(form, directory=example_directory()) == []
    assert check_form(form, directory=Directory()) == []


def test_the_example_form_would_be_refused_with_the_reserved_status_key() -> None:
    data = example_document()["forms"]["complaint"]
    fields = [{**f, "key": "status"} if f["key"] == "current_status" else f for f in data["fields"]]
    form = FormDefinition.model_validate({**data, "fields": fields})
    found = check_form(form, directory=example_directory())
    assert [(p.path, "'status' is reserved" in p.message) for p in found] == [
        (("fields", 9, "key"), True)
    ]


def test_field_names_maps_keys_and_labels_to_keys() -> None:
    names = field_names(example_form())
    assert names["投诉类型"] == "type" and names["type"] == "type"
    assert names["相关图片/视频"] == "media"
    assert len(names) == 2 * len(example_form().fields)


@pytest.mark.parametrize(
    "data",
    [
        {"title": "表", "fields": [{"key": "a", "label": "甲", "type": "text", "colour": "red"}]},
        {"title": "表", "fields": [{"key": "a", "label": "甲", "type": "checkbox"}]},
        {"title": "表", "fields": [{"key": "a", "type": "text"}]},
        {"title": "表", "fields": [], "owner": "x"},
        {"title": "表", "fields": [{"key": "a", "label": "甲", "type": "text", "max_length": 0}]},
    ],
    ids=["unknown-option", "unknown-type", "missing-label", "unknown-form-key", "max_length-0"],
)
def test_the_shape_is_checked_by_pydantic(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FormDefinition.model_validate(data)
