"""The levels a deployment logs at: ``HUB_LOG_LEVEL`` (``config/logs.py``), with the vendor SDKs kept quiet.

At DEBUG the vendor SDKs log what they send and receive: zenpy each request's JSON and each response (comment
bodies, requesters' names and addresses), jira-python a failed response's headers and body, slack_sdk each
response body, requests-oauthlib the headers it signs. A DEBUG set for the hub (``HUB_LOG_LEVEL=DEBUG``, or a
logging configuration that lowers the root logger, e.g. gunicorn's ``--log-config``) is for the hub's own lines:
those SDKs' loggers stay at INFO, or at the root's level when that is higher, unless ``HUB_LOG_LEVEL`` names them
(``DEBUG,zenpy=DEBUG``) or the logging configuration sets their own level.
"""

from __future__ import annotations

import logging
from typing import Sequence

# The loggers of the libraries that speak to the vendors (and to an LLM), parents of their modules' loggers.
# (SQLAlchemy keeps its own at WARNING: at INFO it would log every statement's parameters.)
VENDOR_LOGGERS = ("urllib3", "requests", "requests_oauthlib", "oauthlib", "slack_sdk", "slack_bolt", "zenpy", "jira",
                  "httpx", "httpcore", "hpack")
_kept: set[str] = set()  # the vendor loggers whose level was set here (not by the process's logging configuration)


def apply_log_levels(levels: Sequence[tuple[str, str]]) -> None:
    """Set the levels ``HUB_LOG_LEVEL`` asks for and keep the vendor loggers it does not name at INFO or above.

    Args:
        levels: ``settings.log_levels``: ``(logger, LEVEL)`` pairs, ``""`` for the root logger.
    """
    named = dict(levels)
    root = logging.getLogger()
    for name, level in named.items():
        (logging.getLogger(name) if name else root).setLevel(level)
        _kept.discard(name)
    floor = max(logging.INFO, root.level)  # never below INFO; never louder than the process asked for either
    for name in VENDOR_LOGGERS:
        logger = logging.getLogger(name)
        if name not in named and (logger.level == logging.NOTSET or name in _kept):
            logger.setLevel(floor)
            _kept.add(name)
