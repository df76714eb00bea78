"""complaint-bot: customer complaints as tracked, timed, accountable work in chat apps."""

__version__ = "0.1.0"
