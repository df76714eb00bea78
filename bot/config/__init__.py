"""The YAML config file: the organisation, channels, forms, flows, rules and digests.

Import from the modules: bot.config.loader (load_config), bot.config.model (the schema) and
bot.config.channels (platform accounts, importable without the engines).
"""
