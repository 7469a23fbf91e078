"""The server's secret key: from TANDEM_SECRET_KEY, or generated once into a 0600 file outside the database."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.secret_key import server_secret_key


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(autouse=True)
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TANDEM_SECRET_KEY", raising=False)
    monkeypatch.delenv("TANDEM_SECRET_KEY_FILE", raising=False)


def test_unset_the_key_is_generated_once_into_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    path = tmp_path / "config" / "tandem.key"
    first = server_secret_key(settings(tandem_secret_key_file=str(path)))
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert server_secret_key(settings(tandem_secret_key_file=str(path))) == first  # kept, not replaced
    assert [p.name for p in path.parent.iterdir()] == ["tandem.key"]  # no temporary file left


def test_workers_starting_together_all_get_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "tandem.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(
            pool.map(lambda _: server_secret_key(settings(tandem_secret_key_file=str(path))), range(32))
        )
    assert len(keys) == 1


def test_the_default_key_file_is_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    key = server_secret_key(settings())
    assert (tmp_path / "tandem.key").read_text().strip().encode() == key


def test_the_setting_wins_and_no_file_is_written(tmp_path: Path) -> None:
    path = tmp_path / "tandem.key"
    key = "k" * 40
    assert (
        server_secret_key(settings(tandem_secret_key=key, tandem_secret_key_file=str(path))) == key.encode()
    )
    assert not path.exists()


def test_a_short_key_is_refused_without_being_echoed() -> None:
    short = "short-secret-value"
    with pytest.raises(ConfigError) as refused:
        settings(slack_bot_token="xoxb-1", slack_signing_secret="s", tandem_secret_key=short).resolve_mode()
    assert "TANDEM_SECRET_KEY is too short" in refused.value.render()
    assert short not in refused.value.render()
    assert short not in repr(settings(tandem_secret_key=short))


def test_an_unusable_key_file_is_one_clear_message(tmp_path: Path) -> None:
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="holds no usable key"):
        server_secret_key(settings(tandem_secret_key_file=str(empty)))
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be")
    with pytest.raises(ConfigError, match="cannot be read or created"):
        server_secret_key(settings(tandem_secret_key_file=str(blocked / "tandem.key")))
