"""Channel and group-chat sections of the config: platform accounts and their credentials.

Kept apart from the rest of the schema so platform adapters can import it without the engines.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


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
    required_credentials: ClassVar[tuple[str, ...]] = (
        "corp_id",
        "agent_id",
        "secret",
        "token",
        "encoding_aes_key",
    )


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
