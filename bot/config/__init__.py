"""Loading and validating the YAML config file (the organisation, channels, forms, flows, rules)."""

from bot.config.loader import LoadedConfig, load_config, load_config_text

__all__ = ["LoadedConfig", "load_config", "load_config_text"]
