"""The config file's schema (pydantic): what a business person may write in config/*.yaml."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.forms import FormDefinition
from bot.rules import RuleDefinition
from bot.workflow import FlowDefinition

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
        raise ValueError(f"unknown time zone '{value}' (use an IANA name like Asia/Shanghai)") from exc
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


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


class ChannelBase(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    api_base: str | None = None

    # Fields that must be set for the channel to switch on.
    required_credentials: ClassVar[tuple[str, ...]] = ()

    def missing_credentials(self) -> list[str]:
        return [name for name in self.required_credentials if not getattr(self, name)]


class PlaygroundChannel(ChannelBase):
    type: Literal["playground"]


class WechatOAChannel(ChannelBase):
    type: Literal["wechat_oa"]
    app_id: str | None = None
    app_secret: str | None = None
    token: str | None = None
    encoding_aes_key: str | None = None
    required_credentials: ClassVar[tuple[str, ...]] = ("app_id", "app_secret", "token")


class WecomChannel(ChannelBase):
    type: Literal["wecom"]
    corp_id: str | None = None
    agent_id: str | int | None = None
    secret: str | None = None
    token: str | None = None
    encoding_aes_key: str | None = None
    required_credentials: ClassVar[tuple[str, ...]] = ("corp_id", "agent_id", "secret", "token", "encoding_aes_key")


class DingtalkChannel(ChannelBase):
    type: Literal["dingtalk"]
    client_id: str | None = None
    client_secret: str | None = None
    robot_code: str | None = None
    mode: Literal["stream", "http"] = "stream"
    required_credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")


ChannelConfig = Annotated[
    PlaygroundChannel | WechatOAChannel | WecomChannel | DingtalkChannel,
    Field(discriminator="type"),
]


class GroupConfig(Strict):
    id: str
    name: str
    channel: str
    webhook_key: str | None = None  # WeCom group robot
    webhook_token: str | None = None  # DingTalk custom robot access_token
    webhook_secret: str | None = None  # DingTalk robot signing secret


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
