"""Logging for every Tandem process, with a filter that keeps tokens out of the log."""

from __future__ import annotations

import logging
import re

# Slack tokens (bot, user, app-level, refresh) and anything that looks like one.
TOKEN_PATTERN = re.compile(r"\b(xox[abeoprs]|xapp)-[A-Za-z0-9-]+")


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


def configure_logging(level: str = "INFO", secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    protect_answers_in_logs()
