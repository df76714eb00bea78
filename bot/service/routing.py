"""Who is reached where: a person, a group chat or a customer, mapped to a channel and a target.

A person works in one app (WeCom or DingTalk). When that app's channel is off (no credentials,
as on a first `make run`), their messages go to the playground instead, so nothing is lost and
the whole process can still be watched in the browser.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from bot.config.channels import ChannelBase, GroupConfig
from bot.domain.directory import Directory

STAFF_PLATFORMS = ("wecom", "dingtalk")


@dataclass(frozen=True)
class Route:
    channel: str  # the channel's name in the config
    platform: str  # wecom, dingtalk, wechat_oa, playground
    target: str  # "user:<platform user id>" or "group:<group id>"


class Routing:
    """Maps people, groups and customers to channels, and platform user ids back to people."""

    def __init__(
        self,
        directory: Directory,
        channels: Mapping[str, ChannelBase],
        groups: Mapping[str, GroupConfig],
        enabled: Collection[str],
    ):
        self._directory = directory
        self._channels = channels
        self._groups = groups
        self._enabled = [name for name in channels if name in set(enabled)]
        self._playground = next(
            (n for n in self._enabled if self.platform_of(n) == "playground"), None
        )
        self._by_account: dict[tuple[str, str], str] = {}
        for person in directory.people.values():
            for platform, user_id in person.accounts.items():
                self._by_account[(platform, user_id)] = person.id

    def platform_of(self, channel: str) -> str:
        config = self._channels.get(channel)
        return getattr(config, "type", "") if config else ""

    def is_enabled(self, channel: str) -> bool:
        return channel in self._enabled

    @property
    def playground(self) -> str | None:
        return self._playground

    def _enabled_channel_of(self, platform: str) -> str | None:
        return next((n for n in self._enabled if self.platform_of(n) == platform), None)

    def person(self, person_id: str) -> Route | None:
        """Where this person's cards and notices go; the playground when their app is off."""
        person = self._directory.person(person_id)
        if person is None:
            return None
        preferred = [person.works_in] if person.works_in else []
        preferred += [p for p in person.accounts if p not in preferred]
        for platform in preferred:
            if platform == "playground":
                break
            user_id = person.accounts.get(platform)
            channel = self._enabled_channel_of(platform)
            if user_id and channel:
                return Route(channel, platform, f"user:{user_id}")
        if self._playground:
            return Route(self._playground, "playground", f"user:{person.id}")
        return None

    def group(self, group_id: str) -> Route | None:
        group = self._groups.get(group_id)
        if group is None:
            return None
        if self.is_enabled(group.channel):
            return Route(group.channel, self.platform_of(group.channel), f"group:{group_id}")
        if self._playground:
            return Route(self._playground, "playground", f"group:{group_id}")
        return None

    def customer(self, channel: str, external_id: str) -> Route | None:
        if not self.is_enabled(channel):
            return None
        return Route(channel, self.platform_of(channel), f"user:{external_id}")

    def person_for(self, channel: str, platform_user_id: str) -> str | None:
        """The person behind a platform user id on `channel` (the playground uses person ids)."""
        platform = self.platform_of(channel)
        if platform == "playground":
            return platform_user_id if self._directory.person(platform_user_id) else None
        return self._by_account.get((platform, platform_user_id))
