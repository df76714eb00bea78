"""The staff directory as plain data: people, departments, roles and group chats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    department: str | None = None
    roles: tuple[str, ...] = ()
    mobile: str | None = None
    # platform -> that platform's user id, e.g. {"wecom": "ZhangSan", "dingtalk": "0101"}
    accounts: Mapping[str, str] = field(default_factory=dict)
    # The platform this person works in when they have several (None: the first account).
    works_in: str | None = None


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    head: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    channel: str


@dataclass(frozen=True)
class Directory:
    """Who is who; every lookup is by id and returns ids, so callers stay plain data."""

    people: Mapping[str, Person] = field(default_factory=dict)
    departments: Mapping[str, Department] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)  # role id -> description
    groups: Mapping[str, Group] = field(default_factory=dict)

    def person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def name_of(self, person_id: str | None) -> str:
        """Display name of a person id, or the id itself when unknown."""
        if person_id is None:
            return ""
        person = self.people.get(person_id)
        return person.name if person else person_id

    def members_of_role(self, role: str) -> list[str]:
        """Ids of the people holding `role`, in directory order."""
        return [p.id for p in self.people.values() if role in p.roles]

    def head_of(self, department_id: str | None) -> str | None:
        dept = self.departments.get(department_id or "")
        return dept.head if dept else None

    def members_of_department(self, department_id: str) -> list[str]:
        return [p.id for p in self.people.values() if p.department == department_id]

    def department_name(self, department_id: str | None) -> str:
        dept = self.departments.get(department_id or "")
        return dept.name if dept else (department_id or "")
