"""Channel and group-chat sections of the config: platform accounts and their credentials.

Kept apart from the rest of the schema so platform adapters can import it without the engines.
"""

from __future__ import annotations

from string import Formatter
from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ChannelBase(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    api_base: str | None = None
    # field -> the environment variable its ${VAR} reference names (set by the config loader), so
    # a channel that is off can say which variable to set rather than which field.
    _env_names: dict[str, str] = PrivateAttr(default_factory=dict)

    # Fields that must be set for the channel to switch on.
    required_credentials: ClassVar[tuple[str, ...]] = ()

    def missing_credentials(self) -> list[str]:
        return [name for name in self.required_credentials if not getattr(self, name)]

    def what_to_set(self) -> list[str]:
        """The missing credentials as the operator sets them: WECHAT_APP_ID (app_id), or a field."""
        return [
            f"{self._env_names[field]} ({field})" if field in self._env_names else field
            for field in self.missing_credentials()
        ]


class PlaygroundChannel(ChannelBase):
    type: Literal["playground"]


# --- WeChat Official Account (owned by the wechat_oa channel) -----------------------------------

# Placeholders a fallback template field may use (see bot/channels/wechat_oa/templates.py).
WECHAT_FALLBACK_PLACEHOLDERS = ("text", "title", "body", "time", "date")


class WechatMenuButton(Strict):
    """One custom-menu button: a `click` (sends Event=CLICK with `key`), a `view` (opens `url`),
    or a parent of up to 5 `sub_button`s. `url` may contain {public_base_url}."""

    name: str = Field(min_length=1)
    type: Literal["click", "view"] | None = None
    key: str | None = Field(None, max_length=128)
    url: str | None = Field(None, max_length=1024)
    sub_button: list[WechatMenuButton] = Field(default_factory=list, max_length=5)

    @model_validator(mode="after")
    def _complete(self) -> WechatMenuButton:
        if self.sub_button:
            if self.type is not None:
                raise ValueError(f"menu button '{self.name}' has sub_button and a type; pick one")
            if any(child.sub_button for child in self.sub_button):
                raise ValueError(f"menu button '{self.name}': sub-menus cannot be nested deeper")
            return self
        if self.type is None:
            raise ValueError(f"menu button '{self.name}' needs a type (click or view)")
        if self.type == "click" and not self.key:
            raise ValueError(f"click button '{self.name}' needs a key")
        if self.type == "view" and not self.url:
            raise ValueError(f"view button '{self.name}' needs a url")
        return self


class WechatOAChannel(ChannelBase):
    type: Literal["wechat_oa"]
    app_id: str | None = None
    app_secret: str | None = None
    token: str | None = None
    encoding_aes_key: str | None = None
    # plaintext | compatible | safe; unset means safe when encoding_aes_key is set, else plaintext.
    encrypt_mode: Literal["plaintext", "compatible", "safe"] | None = None
    # Callbacks whose timestamp is further than this from our clock are refused (replays).
    timestamp_window: float = Field(300.0, gt=0)
    # stable_token (default) never knocks out another worker's token; "token" is /cgi-bin/token.
    token_endpoint: Literal["stable_token", "token"] = "stable_token"
    http_timeout: float = Field(10.0, gt=0)
    # Outside the 48 h customer-service window (45015/45047) send this template message instead;
    # fallback_fields maps the template's data keys to text built from the message.
    fallback_template: str | None = None
    fallback_fields: dict[str, str] = Field(
        default_factory=lambda: {
            "first": "{title}",
            "keyword1": "{body}",
            "keyword2": "{time}",
        }
    )
    fallback_url: str | None = None
    timezone: str = "Asia/Shanghai"  # for {time} and {date} in fallback fields
    # The custom menu `python -m bot wechat-menu <name>` pushes; unset means the default menu.
    menu: list[WechatMenuButton] | None = Field(None, min_length=1, max_length=3)
    required_credentials: ClassVar[tuple[str, ...]] = ("app_id", "app_secret", "token")

    @property
    def mode(self) -> Literal["plaintext", "compatible", "safe"]:
        """The effective encryption mode."""
        if self.encrypt_mode is not None:
            return self.encrypt_mode
        return "safe" if self.encoding_aes_key else "plaintext"

    def missing_credentials(self) -> list[str]:
        missing = super().missing_credentials()
        if self.mode != "plaintext" and not self.encoding_aes_key:
            missing.append("encoding_aes_key")
        return missing

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: str | None) -> str | None:
        if value and len(value) != 43:
            raise ValueError(f"encoding_aes_key must be 43 characters, not {len(value)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone '{value}'") from exc
        return value

    @field_validator("fallback_fields")
    @classmethod
    def _known_placeholders(cls, fields: dict[str, str]) -> dict[str, str]:
        allowed = ", ".join(WECHAT_FALLBACK_PLACEHOLDERS)
        for key, pattern in fields.items():
            try:
                names = [name for _, name, _, _ in Formatter().parse(pattern) if name is not None]
            except ValueError as exc:
                raise ValueError(f"fallback field '{key}': bad pattern '{pattern}': {exc}") from exc
            for name in names:
                if name not in WECHAT_FALLBACK_PLACEHOLDERS:
                    raise ValueError(
                        f"fallback field '{key}' uses unknown placeholder '{{{name}}}'; "
                        f"use one of {allowed}"
                    )
        return fields

    @field_validator("menu")
    @classmethod
    def _menu_names_fit(cls, menu: list[WechatMenuButton] | None) -> list[WechatMenuButton] | None:
        # WeChat's limits are bytes; counted as UTF-8, the stricter reading (5 Chinese characters).
        for button in menu or ():
            _check_menu_name(button.name, 16)
            for child in button.sub_button:
                _check_menu_name(child.name, 60)
        return menu


def _check_menu_name(name: str, limit: int) -> None:
    size = len(name.encode("utf-8"))
    if size > limit:
        raise ValueError(f"menu name '{name}' is {size} bytes; WeChat allows {limit}")


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
    """A DingTalk app (企业内部应用) with a robot; `api_base` is the new API (api.dingtalk.com)."""

    type: Literal["dingtalk"]
    client_id: str | None = None  # AppKey
    client_secret: str | None = None  # AppSecret; also checks HTTP-mode callback signatures
    robot_code: str | None = None  # the app robot's code; DingTalk uses the AppKey when unset
    # stream: the SDK's WebSocket (no public URL); http: POST /callbacks/dingtalk/{name}.
    mode: Literal["stream", "http"] = "stream"
    oapi_base: str | None = None  # the old API (oapi.dingtalk.com): custom group robot webhooks
    # The interactive card template imported from config/dingtalk_card_template.json; without
    # it cards go out as markdown ActionCards whose buttons send the typed command back.
    card_template_id: str | None = None
    # Interactive cards in a group chat need its openConversationId (group id -> that id);
    # groups not listed get cards as markdown through their custom robot webhook.
    group_conversations: dict[str, str] = {}
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
