"""Names the service puts into every condition's and template's environment.

Forms, flows and rules all read them; a form field named like one would be ambiguous in every
expression, so the forms check refuses such a key or label.
"""

from __future__ import annotations

RESERVED_NAMES: frozenset[str] = frozenset(
    {
        "number",  # the complaint number, TS20261123-0001
        "step",  # the current step's display name
        "step_id",
        "department",  # department id
        "department_name",
        "assignee",  # person id
        "assignee_name",
        "channel",
        "created_at",
        "age",  # time since created
        "event",
        "level",  # sla level: warning, breached, escalated
        "count",  # threshold rules
        "actor",
        "priority",
        "status",  # lifecycle: new, in_progress, resolved, closed, cancelled
        "now",
    }
)
