"""Subcommands of `python -m bot`: one module each with `register(subparsers)`.

`register` adds the subcommand's parser and sets `handler=<function(args, settings) -> int>`
with `parser.set_defaults`; bot/cli.py lists the modules explicitly.
"""
