"""Process settings from the environment (DATABASE_URL, REDIS_URL, BOT_CONFIG, PORT, ...)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/complaint-bot.db"


class Settings(BaseSettings):
    """Everything that differs between machines; the process is data in config/*.yaml."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    config_path: Path = Field(
        Path("config/example.yaml"), validation_alias=AliasChoices("BOT_CONFIG", "CONFIG")
    )
    host: str = Field("127.0.0.1", validation_alias="HOST")
    port: int = Field(8080, validation_alias="PORT")
    data_dir: Path = Field(Path("data"), validation_alias="DATA_DIR")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # Seconds between outbox relay and timer ticks; small enough that a card arrives "at once".
    relay_interval: float = Field(1.0, validation_alias="RELAY_INTERVAL")
    tick_interval: float = Field(30.0, validation_alias="TICK_INTERVAL")
    migrate_on_start: bool = Field(True, validation_alias="MIGRATE_ON_START")
    # Where platforms and people reach this service: links in cards, digest image URLs.
    public_base_url: str = Field("http://127.0.0.1:8080", validation_alias="PUBLIC_BASE_URL")
    # Signs customer page links, digest image links and console sessions. Set it in production;
    # several workers must share one value. Empty: a random one per start (links die on restart).
    secret_key: str = Field("", validation_alias="SECRET_KEY")
    db_pool_size: int = Field(10, validation_alias="DB_POOL_SIZE")
    # Seconds to wait for a pooled PostgreSQL connection; past it a callback answers 503 and the
    # platform retries (WeChat gives up on an answer after 5 s).
    db_pool_timeout: float = Field(3.5, validation_alias="DB_POOL_TIMEOUT")
    workers: int = Field(1, validation_alias="WORKERS")
    # Serve on uvloop's event loop when it is installed (less CPU per request); off: asyncio's.
    uvloop: bool = Field(True, validation_alias="UVLOOP")
    shutdown_grace: float = Field(10.0, validation_alias="SHUTDOWN_GRACE")
    intake_idle_timeout: timedelta = Field(
        timedelta(minutes=30), validation_alias="INTAKE_IDLE_TIMEOUT"
    )
    # At start, send each digest whose period closed while no worker ran (tests of other things
    # turn it off: it renders charts).
    digest_catch_up: bool = Field(True, validation_alias="DIGEST_CATCH_UP")
    # The playground's clock control moves time forward; only when every channel is the playground.
    playground_clock: bool = Field(True, validation_alias="PLAYGROUND_CLOCK")

    @field_validator("secret_key")
    @classmethod
    def _random_when_unset(cls, value: str) -> str:
        return value or secrets.token_hex(32)

    @property
    def link_secret(self) -> str:
        return self.secret_key
