"""Configuration: every problem named with its fix, exit status 2, never a secret in the output."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, Mode, Settings, load_settings

SECRET = "s3cr3t-signing-value-never-print"


def make(**values: str) -> Settings:
    # Strings for SecretStr fields, and pydantic-settings' own `_env_file`: pydantic takes both,
    # mypy sees only the fields and their types.
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "DATABASE_URL",
        "SLACK_API_URL",
        "PORT",
        "LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    # `main` configures the root logger with a handler on this test's (captured) stderr; later
    # tests must not log into that closed stream.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_modes() -> None:
    assert make(slack_bot_token="xoxb-1", slack_signing_secret=SECRET).resolve_mode() is Mode.HTTP
    assert make(slack_bot_token="xoxb-1", slack_app_token="xapp-1").resolve_mode() is Mode.SOCKET
    assert (
        make(slack_bot_token="xoxb-1", slack_signing_secret=SECRET, slack_app_token="xapp-1").resolve_mode(
            socket_mode=True
        )
        is Mode.SOCKET
    )
    oauth = make(slack_client_id="1.2", slack_client_secret="cs", slack_signing_secret=SECRET)
    assert oauth.resolve_mode() is Mode.OAUTH


def test_nothing_set_names_both_missing_settings() -> None:
    with pytest.raises(ConfigError) as err:
        make().resolve_mode()
    text = err.value.render()
    assert "SLACK_BOT_TOKEN is missing" in text
    assert "SLACK_SIGNING_SECRET is missing" in text


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"slack_client_id": "1.2", "slack_signing_secret": SECRET}, "SLACK_CLIENT_SECRET is missing"),
        (
            {
                "slack_client_id": "1.2",
                "slack_client_secret": SECRET,
                "slack_bot_token": "xoxb-1",
                "slack_signing_secret": SECRET,
            },
            "contradict each other",
        ),
        ({"slack_bot_token": "not-a-token", "slack_signing_secret": SECRET}, "should start with xoxb-"),
        ({"slack_app_token": "xapp-1"}, "SLACK_BOT_TOKEN is missing"),
        (
            {"slack_bot_token": "xoxb-1", "slack_signing_secret": SECRET, "database_url": "mysql://x"},
            "DATABASE_URL",
        ),
    ],
)
def test_contradictory_or_malformed_settings(values: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        make(**values).resolve_mode()
    assert expected in err.value.render()
    assert SECRET not in err.value.render()


def test_invalid_values_never_echo_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "not-a-port-" + SECRET)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "PORT is invalid" in err.value.render()
    assert SECRET not in err.value.render()


def test_secrets_do_not_appear_in_repr() -> None:
    settings = make(slack_bot_token="xoxb-123-secret", slack_signing_secret=SECRET)
    assert SECRET not in repr(settings) and "xoxb-123-secret" not in repr(settings)


def test_serve_with_nothing_set_exits_2_with_one_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Tandem cannot start")
    assert "SLACK_BOT_TOKEN" in err and "SLACK_SIGNING_SECRET" in err
    assert "Traceback" not in err


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-file\nPORT=4000\n")
    settings = load_settings()
    assert settings.port == 4000
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-file"


def test_log_filter_redacts_tokens() -> None:
    from bot.logging_setup import RedactSecrets

    f = RedactSecrets([SECRET])
    assert f.redact(f"token xoxb-12-34-abc and {SECRET}") == "token xoxb-[redacted] and [redacted]"


@pytest.mark.parametrize("typed", ["debug", "Info", "WARNING", " error "])
def test_log_level_takes_the_four_levels_in_any_case(typed: str) -> None:
    assert make(log_level=typed).log_level == typed.strip().upper()


def test_an_unknown_log_level_is_one_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "LOG_LEVEL is invalid" in err
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in err
    assert "Traceback" not in err and "chatty" not in err


PASSWORD = "pg-pass-never-print-7f3a"


@pytest.fixture
def postgres_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single-workspace setup on a PostgreSQL server that nothing listens for (port 1)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://tandem:{PASSWORD}@127.0.0.1:1/tandem")


@pytest.mark.usefixtures("postgres_env")
@pytest.mark.parametrize(
    "argv", [["db", "upgrade"], ["serve", "--no-migrate"], ["scheduler", "--no-migrate"]]
)
def test_postgresql_without_its_driver_is_one_clear_message(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if installed without the postgres extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "psycopg" in err and "postgres extra" in err
    assert "Traceback" not in err and PASSWORD not in err


@pytest.mark.usefixtures("postgres_env")
@pytest.mark.parametrize(
    "argv", [["db", "upgrade"], ["serve", "--no-migrate"], ["scheduler", "--no-migrate"]]
)
def test_an_unreachable_database_is_one_clear_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Tandem cannot start")
    assert (
        "Could not migrate the database" in err if argv[0] == "db" else "Could not reach the database" in err
    )
    assert "Traceback" not in err and PASSWORD not in err


def test_a_malformed_database_url_never_echoes_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://tandem:{PASSWORD}@host:notaport/tandem")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "DATABASE_URL is not a valid database URL" in err
    assert "Traceback" not in err and PASSWORD not in err
