"""The server's secret key: `TANDEM_SECRET_KEY`, or a key file generated on first start.

The key keys the hashes that stand for voters while an anonymous pulse is open (`db.pulses`). It
must never enter the database: with it, a copy of the database taken while a pulse is open (or an
old WAL) ties answers to people; without it, nothing in the database does. So when the setting is
unset, the key lives in a file of its own (`TANDEM_SECRET_KEY_FILE`, `tandem.key` in the working
directory by default), readable by its owner only, that the quick start creates without any step.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

MIN_KEY_CHARS = 32


def server_secret_key(settings: Settings) -> bytes:
    """`TANDEM_SECRET_KEY`, else the key in `TANDEM_SECRET_KEY_FILE`, created (0600) when missing."""
    if settings.tandem_secret_key is not None and settings.tandem_secret_key.get_secret_value().strip():
        return settings.tandem_secret_key.get_secret_value().strip().encode()
    return _key_file(Path(settings.tandem_secret_key_file).expanduser())


def _key_file(path: Path) -> bytes:
    try:
        if not path.exists():
            _create(path)
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            [
                f"TANDEM_SECRET_KEY_FILE ({path}) cannot be read or created ({exc.strerror}): "
                "set TANDEM_SECRET_KEY, or point TANDEM_SECRET_KEY_FILE at a writable place."
            ]
        ) from None
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            [f"TANDEM_SECRET_KEY_FILE ({path}) holds no usable key: restore it from your backup of it."]
        )
    if path.stat().st_mode & 0o077:
        log.warning("the secret key file %s can be read by others than its owner: chmod 600 it", path)
    return key.encode()


def _create(path: Path) -> None:
    """Write a new random key atomically: several workers starting at once all end up with the
    first one's key (a link never replaces an existing file), and nobody reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
            # Where, never what: the key itself is never logged.
            log.warning(
                "generated Tandem's secret key into %s (mode 0600): keep it, and back it up apart from "
                "the database (see the README, 'Anonymity: the threat model')",
                path.resolve(),
            )
        except FileExistsError:
            pass  # another worker created it first: use theirs
    finally:
        temporary.unlink(missing_ok=True)
