"""Process settings from the environment (DATABASE_URL, REDIS_URL, BOT_CONFIG, PORT, ...)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
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
