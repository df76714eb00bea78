"""Does a target's id name someone in the directory? Load-time answers with suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from bot.domain.directory import Directory


def suggest(value: str, allowed: Collection[str]) -> str:
    """ " (did you mean 'x'?)" for the closest allowed value, or nothing."""
    close = difflib.get_close_matches(value, [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def reference_problem(
    kind: str, ref: str, directory: Directory, groups: Collection[str]
) -> str | None:
    """Why `{kind: ref}` names no one, or None when it is fine."""
    d = directory
    if kind == "person" and ref not in d.people:
        return f"unknown person '{ref}'{suggest(ref, d.people)}"
    if kind == "role":
        if ref not in d.roles:
            return f"unknown role '{ref}'{suggest(ref, d.roles)} (declare it under roles:)"
        if not d.members_of_role(ref):
            return f"no one holds role '{ref}' (give it to someone under people:)"
    if kind in ("department_head", "department") and ref != "complaint":
        if ref not in d.departments:
            return f"unknown department '{ref}'{suggest(ref, d.departments)} (or write complaint)"
        if kind == "department_head" and not d.head_of(ref):
            return f"department '{ref}' has no head"
        if kind == "department" and not d.members_of_department(ref):
            return f"department '{ref}' has no members"
    if kind == "group" and ref not in groups:
        return f"unknown group '{ref}'{suggest(ref, groups)}"
    return None
