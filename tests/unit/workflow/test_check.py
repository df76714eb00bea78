"""check_flow: every broken flow is reported with its own path and message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from bot.errors import ConfigProblem
from bot.workflow import FlowDefinition, check_flow

Doc = dict[str, Any]


def check(doc: Doc, directory, form_fields) -> list[ConfigProblem]:
    return check_flow(
        FlowDefinition.model_validate(doc), directory=directory, form_fields=form_fields
    )


def test_the_example_flow_is_valid(flow, directory, form_fields):
    assert check_flow(flow, directory=directory, form_fields=form_fields) == []


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _append_step(step: Doc) -> Callable[[Doc], None]:
    return lambda doc: doc["steps"].append(step)


def _no_end(doc: Doc) -> None:
    doc["steps"] = [s for s in doc["steps"] if s["kind"] != "end"]
    doc["steps"][-1]["next"] = "accept"


def _automatic_loop(doc: Doc) -> None:
    doc["steps"][1]["branches"][2]["next"] = "loop_a"
    doc["steps"] += [
        {
            "id": "loop_a",
            "name": "甲",
            "kind": "exclusive",
            "branches": [
                {"if": "赔偿金额 > 0", "next": "handle"},
                {"else": True, "next": "loop_b"},
            ],
        },
        {
            "id": "loop_b",
            "name": "乙",
            "kind": "exclusive",
            "branches": [{"else": True, "next": "loop_a"}],
        },
    ]


def _no_time_limit_but_warning(doc: Doc) -> None:
    del doc["steps"][0]["time_limit"]
    doc["steps"][0]["warn_before"] = "30m"


# (name, mutation, the exact problems expected)
BROKEN: list[tuple[str, Callable[[Doc], None], list[tuple[tuple[Any, ...], str]]]] = [
    (
        "unknown start",
        _set(("start",), "begin"),
        [(("start",), "unknown step 'begin'")],
    ),
    (
        "start at the end",
        _set(("start",), "end"),
        [(("start",), "the flow starts at its end step 'end'")]
        + [
            ((("steps", i)), f"step '{s}' is never reached from the start step 'end'")
            for i, s in enumerate(
                ["accept", "route", "handle", "check_amount", "signoff", "followup"]
            )
        ],
    ),
    (
        "duplicate step id",
        _append_step({"id": "end", "name": "另一个结束", "kind": "end"}),
        [(("steps", 7, "id"), "duplicate step id 'end'")],
    ),
    (
        "step id with a dot",
        _append_step({"id": "a.b", "name": "x", "kind": "end"}),
        [
            (("steps", 7, "id"), "step id 'a.b' may only use letters, digits, _ and -"),
            (("steps", 7), "step 'a.b' is never reached from the start step 'accept'"),
        ],
    ),
    (
        "unknown on_reject",
        _set(("steps", 4, "on_reject"), "handel"),
        [(("steps", 4, "on_reject"), "unknown step 'handel'")],
    ),
    (
        "unreachable step",
        _append_step(
            {
                "id": "orphan",
                "name": "孤儿",
                "kind": "task",
                "assignee": {"person": "lisi"},
                "next": "end",
            }
        ),
        [(("steps", 7), "step 'orphan' is never reached from the start step 'accept'")],
    ),
    (
        "no end step",
        _no_end,
        [(("steps",), "the flow has no end step (add a step with kind: end)")],
    ),
    (
        "automatic loop",
        _automatic_loop,
        [
            (
                ("steps", 7),
                "steps 'loop_a' -> 'loop_b' -> 'loop_a' loop without a human step "
                "(the flow would never stop)",
            )
        ],
    ),
    (
        "exclusive without else",
        _set(("steps", 1, "branches", 2), {"if": '投诉类型 == "其他"', "next": "handle"}),
        [
            (
                ("steps", 1, "branches"),
                "exclusive step 'route' needs an 'else: true' branch so that one branch is "
                "always taken",
            )
        ],
    ),
    (
        "branch after else",
        _set(
            ("steps", 3, "branches"),
            [{"else": True, "next": "followup"}, {"if": "赔偿金额 > 1000", "next": "signoff"}],
        ),
        [
            (
                ("steps", 3, "branches", 1),
                "branch 2 comes after the 'else' branch and is never taken",
            )
        ],
    ),
    (
        "unknown role",
        _set(("steps", 0, "assignee"), {"role": "产品不"}),
        [(("steps", 0, "assignee"), "unknown role '产品不'")],
    ),
    (
        "unknown person among signers",
        _set(("steps", 4, "assignees", 1), {"person": "ghost"}),
        [(("steps", 4, "assignees", 1), "unknown person 'ghost'")],
    ),
    (
        "unknown department head",
        _set(("steps", 2, "assignee"), {"department_head": "hr"}),
        [
            (
                ("steps", 2, "assignee"),
                "unknown department 'hr' (or 'complaint' for the complaint's own)",
            )
        ],
    ),
    (
        "unknown supervisor role",
        _set(("supervisors",), [{"role": "老板"}]),
        [(("supervisors", 0), "unknown role '老板'")],
    ),
    (
        "unknown branch department",
        _set(("steps", 1, "branches", 0, "department"), "prod"),
        [(("steps", 1, "branches", 0, "department"), "unknown department 'prod'")],
    ),
    (
        "write names an unknown field",
        _set(("steps", 2, "write"), ["solution", "赔偿额"]),
        [
            (
                ("steps", 2, "write", 1),
                "unknown field '赔偿额' (did you mean '赔偿金额'?) in form 'complaint'",
            )
        ],
    ),
    (
        "read names an unknown field",
        _set(("steps", 5, "read"), ["客户姓名", "xyz"]),
        [(("steps", 5, "read", 1), "unknown field 'xyz' in form 'complaint'")],
    ),
    (
        "required outside write",
        _set(("steps", 2, "required"), ["solution", "满意度"]),
        [
            (
                ("steps", 2, "required", 1),
                "required field '满意度' is not in write (a step can only require fields it "
                "writes)",
            )
        ],
    ),
    (
        "bad duration",
        _set(("steps", 2, "time_limit"), "24x"),
        [
            (
                ("steps", 2, "time_limit"),
                "invalid time_limit: unknown unit 'x' in duration '24x' (use s, m, h, d or w, "
                "e.g. 1d12h)",
            )
        ],
    ),
    (
        "zero duration",
        _set(("steps", 5, "time_limit"), "0h"),
        [(("steps", 5, "time_limit"), "time_limit '0h' must be longer than zero")],
    ),
    (
        "escalation before the limit",
        _set(("steps", 2, "escalate_after"), "12h"),
        [
            (
                ("steps", 2, "escalate_after"),
                "escalate_after '12h' must be longer than time_limit '24h' (escalation follows "
                "the breach)",
            )
        ],
    ),
    (
        "warning as long as the limit",
        _set(("steps", 2, "warn_before"), "24h"),
        [(("steps", 2, "warn_before"), "warn_before '24h' must be shorter than time_limit '24h'")],
    ),
    (
        "warning without a limit",
        _no_time_limit_but_warning,
        [(("steps", 0, "warn_before"), "warn_before needs a time_limit to count back from")],
    ),
    (
        "condition syntax",
        _set(("steps", 1, "branches", 0, "if"), "投诉类型 == "),
        None,  # message comes from bot.expr; checked separately below
    ),
    (
        "unknown name in a condition",
        _set(("steps", 1, "branches", 1, "if"), '投诉种类 == "物流问题"'),
        [
            (
                ("steps", 1, "branches", 1, "if"),
                "unknown field '投诉种类' (did you mean '投诉类型'?) at column 1: "
                '投诉种类 == "物流问题"',
            )
        ],
    ),
    (
        "a step that can never finish",
        _set(("steps", 5, "next"), "followup"),
        [
            (
                ("steps", 5),
                "step 'followup' never leads to an end step (it only leads back to itself)",
            ),
            (("steps", 6), "step 'end' is never reached from the start step 'accept'"),
        ],
    ),
    (
        "a loop of human steps with no way out",
        _set(("steps", 5, "next"), "handle"),
        [
            (
                ("steps", 2),
                "steps 'handle', 'check_amount', 'signoff', 'followup' never lead to an end step "
                "(they only lead to each other)",
            ),
            (("steps", 6), "step 'end' is never reached from the start step 'accept'"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_flow_is_reported(flow_doc, directory, form_fields, mutate, expected):
    mutate(flow_doc)
    problems = check(flow_doc, directory, form_fields)
    if expected is None:
        assert len(problems) == 1
        return
    assert sorted((p.path, p.message) for p in problems) == sorted(expected)


def test_condition_syntax_error_points_at_the_column(flow_doc, directory, form_fields):
    flow_doc["steps"][1]["branches"][0]["if"] = "投诉类型 == "
    [problem] = check(flow_doc, directory, form_fields)
    assert problem.path == ("steps", 1, "branches", 0, "if")
    assert "at column 9: 投诉类型 == " in problem.message


def test_every_broken_flow_has_its_own_message():
    messages = [tuple(m for _, m in b[2]) for b in BROKEN if b[2] is not None]
    assert len(set(messages)) == len(messages) >= 10


def test_reserved_names_may_be_used_in_conditions(flow_doc, directory, form_fields):
    flow_doc["steps"][3]["branches"][0]["if"] = 'department == "product" and 赔偿金额 > 1000'
    assert check(flow_doc, directory, form_fields) == []


def test_a_role_nobody_holds_is_reported(flow_doc, directory, form_fields):
    from dataclasses import replace

    lonely = replace(directory, roles={**directory.roles, "质检": "无人"})
    flow_doc["steps"][0]["assignee"] = {"role": "质检"}
    problems = check(flow_doc, lonely, form_fields)
    assert [(p.path, p.message) for p in problems] == [
        (("steps", 0, "assignee"), "nobody holds role '质检' (give it to someone under people:)")
    ]


# --- the pydantic edge ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("steps", 0, "assignee"), {"role": "客服", "person": "lisi"}, "exactly one of"),
        (("steps", 0, "assignee"), {}, "exactly one of"),
        (("steps", 1, "branches", 0, "else"), True, "exactly one of 'if"),
        (("steps", 3, "branches", 1, "else"), False, "write 'else: true'"),
        (("steps", 0, "kind"), "manual", "does not match any of the expected tags"),
        (("steps", 0, "deadline"), "2h", "Extra inputs are not permitted"),
        (("steps", 4, "mode"), "most", "Input should be 'all' or 'any'"),
    ],
)
def test_shape_errors_are_pydantic_errors(flow_doc, path, value, message):
    _set(path, value)(flow_doc)
    with pytest.raises(ValidationError) as info:
        FlowDefinition.model_validate(flow_doc)
    assert message in str(info.value)


def test_branch_keeps_if_and_else_as_written(flow):
    route = flow.step("route")
    assert route.branches[0].if_ == '投诉类型 == "产品质量"'
    assert route.branches[2].is_else and route.branches[2].label == "else"
    dumped = flow.model_dump(by_alias=True, exclude_none=True)
    assert dumped["steps"][1]["branches"][2] == {
        "else": True,
        "department": "support",
        "next": "handle",
    }


def test_field_access_lists_keys_for_cards(flow, form_fields):
    from bot.workflow import field_access

    handle = field_access(flow.step("handle"), form_fields)
    assert handle.read_all and handle.write == ("solution", "compensation")
    assert handle.required == ("solution",)
    flow_doc_read = field_access(flow.step("route"), form_fields)
    assert not flow_doc_read.can_read("type")


def test_field_access_by_label(flow_doc, form_fields):
    from bot.workflow import FlowDefinition, field_access

    flow_doc["steps"][5]["read"] = ["客户姓名", "phone"]
    flow_doc["steps"][5]["write"] = ["满意度"]
    access = field_access(FlowDefinition.model_validate(flow_doc).step("followup"), form_fields)
    assert access.read == ("customer_name", "phone") and access.write == ("satisfaction",)
    assert access.can_read("satisfaction") and not access.can_read("solution")
