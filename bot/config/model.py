"""The config file's schema (pydantic): what a business person may write in config/*.yaml."""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from bot.config.channels import (
    ChannelBase,
    ChannelConfig,
    DingtalkChannel,
    GroupConfig,
    PlaygroundChannel,
    Strict,
    WechatOAChannel,
    WecomChannel,
)
from bot.config.targets import TargetConfig
from bot.forms import FormDefinition
from bot.integrations.config import ApiSettings, Connectors, WebhookSubscription
from bot.rules import RuleDefinition
from bot.workflow import CalendarConfig, FlowDefinition

__all__ = [
    "AppConfig",
    "ChannelBase",
    "ChannelConfig",
    "ConsoleAccount",
    "ConsoleConfig",
    "DigestConfig",
    "DingtalkChannel",
    "GroupConfig",
    "Organization",
    "PlaygroundChannel",
    "WechatOAChannel",
    "WecomChannel",
]

CHART_NAMES = (
    "type_share",
    "monthly_trend",
    "weekly_trend",
    "department_handling_time",
    "status_table",
    "csat_trend",
    "sla_by_department",
)


def known_zone(value: str) -> str:
    """Accept an IANA time zone name, refuse anything else with a hint."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone '{value}' (use an IANA name like Asia/Shanghai)"
        ) from exc
    return value


class Organization(Strict):
    name: str = "complaint-bot"
    timezone: str = "Asia/Shanghai"
    number_prefix: str = Field("TS", pattern=r"^[A-Z]{1,6}$")

    _zone = field_validator("timezone")(lambda cls, v: known_zone(v))


class PlatformAccount(Strict):
    user_id: str


class PersonConfig(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    department: str | None = None
    roles: list[str] = []
    mobile: str | None = Field(None, pattern=r"^1[3-9]\d{9}$")
    wecom: PlatformAccount | None = None
    dingtalk: PlatformAccount | None = None
    # Where this person works: the channel their cards go to (defaults to the first one they have).
    works_in: Literal["wecom", "dingtalk", "playground"] | None = None


class DepartmentConfig(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    head: str | None = None


class DigestConfig(Strict):
    name: str
    group: str
    cron: str = "0 9 * * 1"
    timezone: str = "Asia/Shanghai"
    filter: dict[str, Any] = {}
    charts: list[Literal[CHART_NAMES]] = list(CHART_NAMES[:4])  # type: ignore[valid-type]

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"invalid cron expression '{value}': {exc}") from exc
        return value

    _zone = field_validator("timezone")(lambda cls, v: known_zone(v))


class IntakeConfig(Strict):
    """Which flow a complaint from a customer channel starts (its form comes from the flow)."""

    flow: str = "complaint"


# --- console (the staff web console's sign-in; bot/web/auth.py) ---------------------------------

# scrypt$N$r$p$<salt>$<hash>, salt and hash in unpadded URL-safe base64 (python -m bot.web.auth).
PASSWORD_HASH = re.compile(
    r"^scrypt\$(?P<n>\d{1,8})\$(?P<r>\d{1,3})\$(?P<p>\d{1,3})\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{32,}$"
)


class ConsoleAccount(Strict):
    """A staff member who may sign in to the web console."""

    name: str = Field(min_length=1, max_length=64)
    person: str | None = None  # a people: id; the console shows their name
    password_hash: str

    @field_validator("password_hash")
    @classmethod
    def _scrypt_hash(cls, value: str) -> str:
        match = PASSWORD_HASH.match(value)
        hint = "make one with: python -m bot.web.auth NAME"
        if match is None:
            raise ValueError(
                f"password_hash must look like scrypt$16384$8$1$<salt>$<hash> (never the "
                f"password itself); {hint}"
            )
        n, r, p = int(match["n"]), int(match["r"]), int(match["p"])
        # Bounds keep a typo from asking scrypt for gigabytes at every sign-in.
        if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise ValueError(
                f"password_hash has unusable scrypt parameters N={n}, r={r}, p={p} "
                f"(N a power of two up to 2**20, r 1..32, p 1..16); {hint}"
            )
        return value


class ConsoleConfig(Strict):
    """`console:`: local accounts (none: a one-time admin token is logged at start)."""

    accounts: list[ConsoleAccount] = []
    session_hours: float = Field(12, gt=0, le=24 * 31)


class AppConfig(Strict):
    organization: Organization = Organization()
    roles: dict[str, str] = {}
    departments: list[DepartmentConfig] = []
    people: list[PersonConfig] = []
    channels: list[ChannelConfig] = []
    groups: list[GroupConfig] = []
    forms: dict[str, FormDefinition] = {}
    flows: dict[str, FlowDefinition] = {}
    rules: list[RuleDefinition] = []
    digests: list[DigestConfig] = []
    intake: IntakeConfig = IntakeConfig()
    # Office hours that time limits count in; without it the clock runs 24x7.
    calendar: CalendarConfig | None = None
    # First-response and resolution targets by type and priority (bot/config/targets.py).
    targets: list[TargetConfig] = []
    # --- console (bot/web/auth.py) ---
    console: ConsoleConfig = ConsoleConfig()
    # --- integrations (bot/integrations/config.py) ---
    api: ApiSettings = ApiSettings()
    webhooks: list[WebhookSubscription] = []
    connectors: Connectors = Connectors()
