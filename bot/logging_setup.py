"""Logging for every Tandem process: one format, one line per real event, and no secrets.

`LOG_FORMAT=json` writes one JSON object per line (time, level, logger, pid, message, and the
traceback when there is one), gunicorn's own lines included (`bot/server.py` routes them here).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

# Slack tokens (bot, user, app-level, refresh, a workflow step's own) and anything that looks like one.
TOKEN_PATTERN = re.compile(r"\b(xox[abeoprs]|xapp|xwfp)-[A-Za-z0-9-]+")

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """A last line of defence: code never logs secrets, and this masks any that slip through."""

    def __init__(self, extra_secrets: list[str] | None = None) -> None:
        super().__init__()
        self.extra = [s for s in (extra_secrets or []) if len(s) >= 8]

    def redact(self, text: str) -> str:
        text = TOKEN_PATTERN.sub(lambda m: m.group(1) + "-[redacted]", text)
        for secret in self.extra:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes in its `exc` field)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class DropNoise(logging.Filter):
    """Drops lines that report no event, or report one that did not happen: Alembic's per-run
    preamble, slack_sdk's Socket Mode "session established" (logged even when it failed) and a Bolt
    warning that does not apply (Bolt reads SLACK_BOT_TOKEN from the environment itself, though Tandem hands it a
    client that already carries the token)."""

    NOISE = frozenset(
        {
            warning_client_prioritized_and_token_skipped(),
            "Will assume non-transactional DDL.",
            "Will assume transactional DDL.",
        }
    )

    # slack_sdk's Socket Mode client says these whether or not the websocket opened; Tandem logs the
    # real state instead (bot/socket_mode.py), so an operator never reads "connected" when it is not.
    UNTRUE_PREFIXES = (
        "Context impl ",  # Alembic's preamble
        "A new session has been established",
        "Connected to a new endpoint",
        "Connecting to a new endpoint",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return message not in self.NOISE and not message.startswith(self.UNTRUE_PREFIXES)


# Libraries that speak at INFO about their own plumbing: Alembic lists its plugins at every run and
# APScheduler announces each job it adds and runs. Tandem logs what they did in one line instead
# ("scheduler started with N check-in jobs").
QUIET_LOGGERS = ("alembic.runtime.plugins", "apscheduler")

# slack_sdk's clients log every request body at DEBUG. Response_url bodies include the ephemeral
# "You answered 4" confirmations of pulse answers, and Web API bodies include pulse reminder DMs,
# which go exactly to the members who have not answered yet. Whatever the log level, these loggers
# never go below INFO, so no log line can show a person's answer or whether they answered.
PRIVATE_LOGGERS = ("slack_sdk.webhook", "slack_sdk.web")


def protect_answers_in_logs() -> None:
    for name in PRIVATE_LOGGERS:
        logger = logging.getLogger(name)
        # An explicit level, not an inherited one: a later change to the root level (a debugging
        # session, a test's log capture) must not open these loggers up.
        logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))


def make_handler(log_format: str = "text", secrets: list[str] | None = None) -> logging.Handler:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(DropNoise())
    return handler


def configure_logging(
    level: str = "INFO", secrets: list[str] | None = None, log_format: str = "text"
) -> None:
    root = logging.getLogger()
    root.handlers[:] = [make_handler(log_format, secrets)]
    root.setLevel(level.upper())
    # Python's warnings go through the same handler: one format, JSON included.
    logging.captureWarnings(True)
    if root.level > logging.DEBUG:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    protect_answers_in_logs()
