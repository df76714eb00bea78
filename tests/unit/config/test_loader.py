"""The config loader: each broken file gets its own clear message with file, line and path, and
every problem in a file is listed at once, including those beside entries that failed to parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.loader import load_config, load_config_text
from bot.errors import ConfigError

EXAMPLE = Path(__file__).parents[3] / "config" / "example.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")


def _broken(*edits: tuple[str, str]) -> str:
    text = TEXT
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="example.yaml", environ={})
    return [
        (line, ".".join(str(p) for p in path), message)
        for line, path, message in caught.value.problems
    ]


def _line_of(snippet: str, text: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


def test_the_example_is_valid() -> None:
    config = load_config(EXAMPLE, environ={})
    assert "complaint" in config.flows


BROKEN = [
    # (what is wrong, the edit, a piece of the message, the path's start)
    (
        "unknown field type",
        ("type: phone\n", "type: phonee\n"),
        "'phonee' is not allowed",
        "forms.complaint.fields.1.type",
    ),
    (
        "unknown role",
        ("assignee: {role: 客服}\n        read", "assignee: {role: 产品不}\n        read"),
        "unknown role '产品不'",
        "flows.complaint.steps.0.assignee",
    ),
    (
        "bad duration",
        ("time_limit: 2h", "time_limit: 2hours"),
        "unknown unit 'hours'",
        "flows.complaint.steps.0.time_limit",
    ),
    ("unknown next step", ("next: route", "next: rout"), "rout", "flows.complaint.steps.0"),
    (
        "unknown department head",
        ("head: lisi", "head: lisii"),
        "unknown person 'lisii'",
        "departments.1.head",
    ),
    (
        "person in an unknown department",
        ("department: product\n    mobile", "department: prodcut\n    mobile"),
        "unknown department 'prodcut'",
        "people.2.department",
    ),
    (
        "duplicate person",
        ("  - id: xiaomei\n", "  - id: zhangsan\n"),
        "duplicate person id",
        "people.1.id",
    ),
    (
        "condition syntax",
        ('if: 投诉类型 == "产品质量"', 'if: 投诉类型 == == "产品质量"'),
        "",
        "flows.complaint.steps.1.branches.0",
    ),
    (
        "unknown field in a condition",
        ("if: 赔偿金额 > 1000", "if: 赔偿金额额 > 1000"),
        "赔偿金额额",
        "flows.complaint.steps.3.branches.0",
    ),
    (
        "unknown event",
        ("when: complaint.created", "when: complaint.create"),
        "complaint.create",
        "rules.0",
    ),
    (
        "unknown key",
        ("    title: 投诉登记表\n", "    titel: 投诉登记表\n"),
        "unknown key",
        "forms.complaint.titel",
    ),
    (
        "unknown time zone",
        ("timezone: Asia/Shanghai", "timezone: Asia/Shanghia"),
        "Asia/Shanghia",
        "organization.timezone",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message", "path"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_broken_file_names_its_problem(edit: tuple[str, str], message: str, path: str):
    problems = _problems(_broken(edit))
    first_line = TEXT[: TEXT.index(edit[0])].count("\n") + 1
    edited_lines = range(first_line, first_line + edit[1].count("\n") + 1)
    found = [(line, said) for line, where, said in problems if where.startswith(path)]
    assert found, problems
    line, said = found[0]
    assert message in said
    assert line in edited_lines  # the line the operator changed, not the section's start


def test_messages_render_with_file_line_and_path() -> None:
    text = _broken(
        ("assignee: {role: 客服}\n        read", "assignee: {role: 产品不}\n        read")
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, source="example.yaml", environ={})
    line = _line_of("{role: 产品不}", text)
    assert f"example.yaml:{line}: flows.complaint.steps[0].assignee: unknown role '产品不'" in str(
        caught.value
    )


def test_a_shape_error_does_not_hide_the_problems_of_other_sections() -> None:
    """A misspelt field type and an unknown role in the flow show up in the same run."""
    text = _broken(
        ("type: phone\n", "type: phonee\n"),
        ("time_limit: 2h", "time_limit: 2hours"),
        (
            'assignee: {role: 客服}\n        read: "*"\n        write: [satisfaction]',
            'assignee: {role: 客服不}\n        read: "*"\n        write: [satisfaction]',
        ),
        ("head: lisi", "head: lisii"),
    )
    where = {path: message for _line, path, message in _problems(text)}
    assert "'phonee' is not allowed" in where["forms.complaint.fields.1.type"]
    assert "hours" in where["flows.complaint.steps.0.time_limit"]
    assert where["flows.complaint.steps.5.assignee"] == "unknown role '客服不'"
    assert where["departments.1.head"] == "unknown person 'lisii'"
    assert len(where) == 4  # and nothing that only repeats the broken form's absence


def test_entries_beside_a_broken_one_keep_their_own_index() -> None:
    """People after a broken entry are reported at their index in the file, not a shifted one."""
    text = _broken(
        ('    mobile: "13800000002"\n', '    mobile: ["13800000002"]\n'),  # people[1]
        ("    department: product\n    mobile", "    department: prodcut\n    mobile"),  # people[2]
    )
    paths = [path for _line, path, _message in _problems(text)]
    assert any(p.startswith("people.1.mobile") for p in paths)
    assert "people.2.department" in paths


def test_a_reference_to_a_broken_entry_is_not_reported_twice() -> None:
    """The form fails its shape check: 'unknown form complaint' would only repeat that."""
    problems = _problems(_broken(("type: phone\n", "type: phonee\n")))
    assert [m for _l, _p, m in problems if "unknown form" in m] == []
