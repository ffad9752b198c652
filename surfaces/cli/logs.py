"""The log lines an operator reads (``hub serve``, ``worker``, ``scheduler``, any command with ``-v``).

The hub logs an event key and puts the event's context in ``extra=`` (``interceptor.dense.progress`` with
``embedded`` and ``of``): a format of the message alone printed the key without its figures, so a rebuild
watched in the log said that it progressed, never how far. Each line now ends with that context, as
``key=value``.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_RECORD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}  # a record's own attributes
_SHOWN = 300  # characters of one value at most: a log line stays a line


def _shown(value: object) -> str:
    text = str(value)[:_SHOWN]
    return repr(text) if not text or any(c.isspace() or c == "=" for c in text) else text


class ContextFormatter(logging.Formatter):
    """A formatter that adds each record's context (what the call passed as ``extra=``) to its first line."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{key}={_shown(value)}" for key, value in vars(record).items()
                           if key not in _RECORD and not key.startswith("_"))
        if not context:
            return line
        first, newline, rest = line.partition("\n")  # a traceback follows the line
        return f"{first} {context}{newline}{rest}"


def configure(level: int, fmt: str = FORMAT) -> None:
    """Log to stderr at ``level`` with ``fmt`` and each record's context, unless logging is configured already."""
    handler = logging.StreamHandler()
    handler.setFormatter(ContextFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
