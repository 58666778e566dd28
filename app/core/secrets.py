"""Keeping tokens, keys and secrets out of messages, errors and log lines.

Platforms like to echo what they refuse ("Invalid refresh token: eyJ…"), and an exception's text
ends up in a connection message, an operation's last error or a worker's log. Everything that
stores or logs such text passes it through `hide_secrets` first; the log filter catches the rest.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable

HIDDEN = "[hidden]"
# Shapes that are secrets whoever sent them: JWT-like tokens (Allegro's access and refresh
# tokens), bearer and basic credentials, and token or key parameters in URLs and bodies.
PATTERNS = (
    re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-.]+"),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9_\-.=+/]{8,}"),
    re.compile(r"(?i)\b((?:access|refresh)_token|client_secret|api_key|ws_key|device_code|consumer_secret)"
               r"(\s*[=:]\s*[\"']?)[^\s\"'&,;]+"),
)
# Known secret values shorter than this are not searched for (they would hide ordinary words).
MIN_SECRET_LENGTH = 6


def hide_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every given secret value and every token-shaped string replaced by [hidden]."""
    if not text:
        return text
    for secret in sorted((s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH),
                         key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    text = PATTERNS[0].sub(HIDDEN, text)
    text = PATTERNS[1].sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
    return PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2)}{HIDDEN}", text)


class HideSecretsFilter(logging.Filter):
    """Rewrites each log record's message (and exception text) with secrets hidden."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = hide_secrets(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = hide_secrets(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


# RQ logs through these loggers with handlers of its own, so they get the filter directly.
FILTERED_LOGGERS = ("rq.worker", "rq.job", "rq.queue", "rq.scheduler", "rq_scheduler.scheduler")


def install_log_filter() -> None:
    """Put the filter on every handler of the root logger and on RQ's loggers."""
    targets = [*logging.getLogger().handlers, *(logging.getLogger(name) for name in FILTERED_LOGGERS)]
    for target in targets:
        if not any(isinstance(f, HideSecretsFilter) for f in target.filters):
            target.addFilter(HideSecretsFilter())
