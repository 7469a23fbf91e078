"""Tandem's configuration: one typed place, read from the environment and an optional `.env`.

Secrets are `SecretStr`, so they never appear in a repr, a log line or an error message. Problems
are gathered into one `ConfigError` naming each problem and its fix, which the CLI prints before
exiting with status 2 (no traceback: a missing setting is an operator's mistake, not a bug).
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"

# `LOG_LEVEL=debug` is as good as `DEBUG`; anything else is refused with the list of choices.
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR"],
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
]

LogFormat = Annotated[
    Literal["text", "json"],
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
]


class Mode(enum.StrEnum):
    """How Tandem talks to Slack."""

    HTTP = "http"  # one workspace, bot token, Slack POSTs to us
    OAUTH = "oauth"  # many workspaces installed through /slack/install, tokens in the database
    SOCKET = "socket"  # one workspace over a Socket Mode websocket (no public URL needed)


class ConfigError(Exception):
    """Raised with every configuration problem found, each a sentence that says how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

    def render(self) -> str:
        lines = ["Tandem cannot start: its configuration has problems."]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Set these in the environment or in a .env file (see .env.example and the README).")
        return "\n".join(lines)


class Settings(BaseSettings):
    """Every setting Tandem reads. Names are the environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    database_url: str = "sqlite:///tandem.db"
    slack_api_url: str = SLACK_API_DEFAULT
    port: Annotated[int, Field(ge=1, le=65535)] = 3000
    log_level: LogLevel = "INFO"
    # `json`: one JSON object per line (gunicorn's lines too), for log collectors.
    log_format: LogFormat = "text"
    # Seconds a single Web API call may take before it is retried (slack_sdk's own default is 30).
    slack_timeout: Annotated[int, Field(ge=1, le=120)] = 10
    # How late an occurrence may still be posted after downtime, in hours (issue: check-in rituals).
    tandem_missed_grace_hours: Annotated[float, Field(ge=0, le=168)] = 2.0
    # A side's pulse figures are shown only with at least this many answers (never fewer than 3).
    tandem_pulse_min_answers: Annotated[int, Field(ge=3, le=50)] = 3
    # Hours before a pulse closes when members who have not answered get one reminder DM (0: none).
    tandem_pulse_reminder_hours: Annotated[float, Field(ge=0, le=168)] = 4.0
    # Messages a minute Tandem posts into one workspace at most, after a burst of 10 (jobs/poster.py;
    # 0: no limit of Tandem's own). Slack's 429s hold back the workspace that got them either way.
    tandem_workspace_posts_per_minute: Annotated[float, Field(ge=0, le=6000)] = 0.0
    # Keys the hashes that stand for voters in open anonymous pulses. It never enters the database,
    # so the database alone (a dump, a leaked backup) never ties an answer to a person. Unset: read
    # from (or, on first start, generated into) `tandem_secret_key_file` (bot/secret_key.py).
    tandem_secret_key: SecretStr | None = None
    tandem_secret_key_file: str = "tandem.key"

    @property
    def api_url(self) -> str:
        """`SLACK_API_URL` with the trailing slash slack_sdk needs to join method names."""
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    # The secrets a resolved mode requires: `resolve_mode` refuses to start without them, so for a
    # resolved mode these never fail; a caller that picked a mode itself gets a ConfigError, not None.

    def bot_token(self) -> str:
        """SLACK_BOT_TOKEN: one workspace's bot token (HTTP and Socket Mode)."""
        return _required(self.slack_bot_token, "SLACK_BOT_TOKEN")

    def signing_secret(self) -> str:
        """SLACK_SIGNING_SECRET: verifies that a request came from Slack (HTTP and OAuth)."""
        return _required(self.slack_signing_secret, "SLACK_SIGNING_SECRET")

    def client_secret(self) -> str:
        """SLACK_CLIENT_SECRET: exchanges an OAuth code for a workspace's token (OAuth)."""
        return _required(self.slack_client_secret, "SLACK_CLIENT_SECRET")

    def resolve_mode(self, socket_mode: bool = False) -> Mode:
        """Decide the mode, or raise `ConfigError` listing everything that is missing or contradictory."""
        problems: list[str] = []
        has = {
            "SLACK_BOT_TOKEN": _present(self.slack_bot_token),
            "SLACK_SIGNING_SECRET": _present(self.slack_signing_secret),
            "SLACK_APP_TOKEN": _present(self.slack_app_token),
            "SLACK_CLIENT_ID": bool(self.slack_client_id),
            "SLACK_CLIENT_SECRET": _present(self.slack_client_secret),
        }
        oauth = has["SLACK_CLIENT_ID"] or has["SLACK_CLIENT_SECRET"]
        # SLACK_APP_TOKEN without a signing secret can only mean Socket Mode.
        socket = socket_mode or (has["SLACK_APP_TOKEN"] and not has["SLACK_SIGNING_SECRET"] and not oauth)

        if socket:
            mode = Mode.SOCKET
            if oauth:
                problems.append(
                    "Socket Mode runs one workspace: unset SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, "
                    "or run over HTTP (drop --socket-mode and SLACK_APP_TOKEN) for OAuth."
                )
            if not has["SLACK_APP_TOKEN"]:
                problems.append(
                    "SLACK_APP_TOKEN is missing: Socket Mode needs an app-level token (xapp-...) with the "
                    "connections:write scope, from your app's Basic Information page."
                )
            if not has["SLACK_BOT_TOKEN"]:
                problems.append(
                    "SLACK_BOT_TOKEN is missing: set the bot token (xoxb-...) from your app's "
                    "OAuth & Permissions page."
                )
        elif oauth:
            mode = Mode.OAUTH
            if has["SLACK_BOT_TOKEN"]:
                problems.append(
                    "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET contradict each other: set the "
                    "bot token for one workspace, or the client id and secret for OAuth, not both."
                )
            for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET"):
                if not has[name]:
                    problems.append(
                        f"{name} is missing: OAuth (many workspaces) needs SLACK_CLIENT_ID, "
                        "SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET from your app's Basic Information page."
                    )
        else:
            mode = Mode.HTTP
            if not has["SLACK_BOT_TOKEN"]:
                problems.append(
                    "SLACK_BOT_TOKEN is missing: set the bot token (xoxb-...) from your app's OAuth & "
                    "Permissions page (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth)."
                )
            if not has["SLACK_SIGNING_SECRET"]:
                problems.append(
                    "SLACK_SIGNING_SECRET is missing: copy the signing secret from your app's "
                    "Basic Information page, so Tandem can verify that requests come from Slack."
                )

        if has["SLACK_BOT_TOKEN"] and not _secret(self.slack_bot_token).startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN does not look like a bot token: it should start with xoxb-.")
        if has["SLACK_APP_TOKEN"] and not _secret(self.slack_app_token).startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN does not look like an app-level token: it should start with xapp-."
            )
        if not self.database_url.split(":", 1)[0].startswith(("sqlite", "postgresql")):
            problems.append(
                "DATABASE_URL must be a SQLite (sqlite:///tandem.db) or PostgreSQL "
                "(postgresql+psycopg://user@host/db) URL."
            )
        if _present(self.tandem_secret_key) and len(_secret(self.tandem_secret_key).strip()) < 32:
            problems.append(
                "TANDEM_SECRET_KEY is too short: use at least 32 random characters "
                "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), or unset it to let "
                "Tandem generate one into TANDEM_SECRET_KEY_FILE."
            )
        if not self.slack_api_url.startswith(("http://", "https://")):
            problems.append("SLACK_API_URL must be an http(s) URL, such as https://slack.com/api/.")
        if problems:
            raise ConfigError(problems)
        return mode


def _present(value: SecretStr | None) -> bool:
    return value is not None and bool(value.get_secret_value().strip())


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def _required(value: SecretStr | None, name: str) -> str:
    if not _present(value):
        raise ConfigError([f"{name} is missing: this mode needs it (see the README's Settings)."])
    return _secret(value)


def load_settings(**overrides: object) -> Settings:
    """Read settings; invalid values become a `ConfigError` that never echoes the value itself."""
    try:
        # Values of any type on purpose: pydantic validates them (the errors below), not mypy.
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = ".".join(str(p) for p in error["loc"]).upper()
            problems.append(f"{name} is invalid: {error['msg']}.")
        raise ConfigError(problems) from None
