"""The `tandem` command: serve, scheduler, db upgrade, manifest, --version."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from bot import __version__
from bot.config import ConfigError, Mode, Settings, load_settings
from bot.logging_setup import configure_logging
from bot.manifest import build_manifest
from bot.secret_key import server_secret_key

log = logging.getLogger("tandem")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tandem",
        description="Tandem: joint marketing and IT check-ins, pulses and shared wins in Slack.",
    )
    parser.add_argument("--version", action="version", version=f"tandem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the Slack app (and, by default, the scheduler)")
    serve.add_argument(
        "--no-scheduler", action="store_true", help="leave the scheduler out (run `tandem scheduler`)"
    )
    serve.add_argument("--socket-mode", action="store_true", help="connect over Socket Mode instead of HTTP")
    serve.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default: PORT, or 3000)")
    serve.add_argument("--workers", type=int, default=1, help="web worker processes (default 1)")
    serve.add_argument("--threads", type=int, default=8, help="request threads per worker (default 8)")
    serve.add_argument("--access-log", action="store_true", help="log every request (path only, no query)")

    sched = sub.add_parser(
        "scheduler", help="run the scheduler alone (with web workers started --no-scheduler)"
    )
    sched.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")

    database = sub.add_parser("db", help="database maintenance")
    db_sub = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations")

    manifest = sub.add_parser("manifest", help="print the Slack app manifest")
    manifest.add_argument(
        "--url", help="public https URL Tandem is served at, e.g. https://tandem.example.com"
    )
    manifest.add_argument("--socket-mode", action="store_true", help="a manifest for Socket Mode (no URLs)")
    manifest.add_argument(
        "--workflow-steps",
        action="store_true",
        help="add Tandem's Workflow Builder steps (needs an org-ready app on a paid plan)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "manifest":
            return _manifest(args, parser)
        settings = load_settings()
        configure_logging(settings.log_level, _secrets(settings), settings.log_format)
        if args.command == "db":
            _prepare_database(settings, migrate=True)
            print("Database is up to date.")
            return 0
        if args.command == "scheduler":
            return _scheduler(settings, args)
        return _serve(settings, args)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.slack_signing_secret,
        settings.slack_client_secret,
        settings.slack_bot_token,
        settings.slack_app_token,
        settings.tandem_secret_key,
    ]
    secrets = [v.get_secret_value() for v in values if v is not None]
    password = _database_password(settings.database_url)
    return [*secrets, password] if password else secrets


def _manifest(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.socket_mode and not (args.url or "").startswith("https://"):
        parser.error("--url must be the https:// address Slack will reach Tandem at (or use --socket-mode)")
    print(
        json.dumps(
            build_manifest(args.url, socket_mode=args.socket_mode, workflow_steps=args.workflow_steps),
            indent=2,
            ensure_ascii=False,
        )
    )
    return 0


def _prepare_database(settings: Settings, *, migrate: bool) -> None:
    """Apply pending migrations, or with `migrate=False` check that none are pending.

    Every way this can fail (no driver, a malformed URL, an unreachable server, a wrong password,
    an unmigrated database) is an operator problem: one `ConfigError`, never a traceback, and
    never the URL itself, which may carry a password.
    """
    from sqlalchemy.exc import ArgumentError

    from db.migrate import pending, upgrade
    from db.session import make_engine

    try:
        engine = make_engine(settings.database_url)
    except ImportError:
        raise ConfigError(
            [
                "DATABASE_URL points at PostgreSQL, but its driver (psycopg) is not installed: install "
                "Tandem with the postgres extra, e.g. pip install '.[postgres]'."
            ]
        ) from None
    except (ArgumentError, ValueError):
        raise ConfigError(
            ["DATABASE_URL is not a valid database URL: see the README's Settings for its form."]
        ) from None
    try:
        if migrate:
            upgrade(engine)
            return
        waiting = pending(engine)
    except Exception as exc:
        # An unreachable database is an operator problem: one message, not a traceback.
        what = "migrate" if migrate else "reach"
        raise ConfigError(
            [f"Could not {what} the database at DATABASE_URL: {_describe_db_error(exc, settings)}"]
        ) from None
    finally:
        engine.dispose()
    if waiting:
        raise ConfigError(
            [
                f"The database has {len(waiting)} migration(s) pending and --no-migrate was given: run "
                "`tandem db upgrade` first, or start without --no-migrate."
            ]
        )


def _describe_db_error(exc: Exception, settings: Settings) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        text = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    else:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    # Drivers quote parts of the connection string in some errors; the password must not be one.
    for secret in (settings.database_url, _database_password(settings.database_url)):
        if secret:
            text = text.replace(secret, "***")
    return text


def _database_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:
        return None


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import Runtime, register_single_workspace
    from db.clock import SystemClock
    from db.session import Database

    mode = settings.resolve_mode(socket_mode=args.socket_mode)
    if args.workers < 1 or args.threads < 1:
        raise ConfigError(["--workers and --threads must be at least 1."])
    run_scheduler = not args.no_scheduler
    if run_scheduler and args.workers > 1 and mode is not Mode.SOCKET:
        raise ConfigError(
            [
                "--workers above 1 needs --no-scheduler: run one `tandem scheduler` process beside the "
                "web workers (on PostgreSQL), so that only one process schedules."
            ]
        )
    _prepare_database(settings, migrate=not args.no_migrate)
    # Once, here: a key file that cannot be read or made is one message at start, and a new one is
    # made before the web workers start (they all read the same one).
    server_secret_key(settings)
    if mode is not Mode.OAUTH:
        database = Database(settings.database_url)
        try:
            team = register_single_workspace(settings, database, SystemClock())
        finally:
            database.dispose()
        log.info("serving workspace %s", team)

    if mode is Mode.SOCKET:
        return _serve_socket_mode(settings, run_scheduler, host=args.host, port=args.port or settings.port)

    from bot.server import serve_http

    port = args.port or settings.port
    log.info(
        "Tandem %s listening on %s:%d (%s mode, scheduler %s)",
        __version__,
        args.host,
        port,
        mode,
        "on" if run_scheduler else "off",
    )
    serve_http(
        lambda: Runtime(settings, mode, with_scheduler=run_scheduler),
        host=args.host,
        port=port,
        workers=args.workers,
        threads=args.threads,
        run_scheduler=run_scheduler,
        access_log=args.access_log,
        log_level=settings.log_level,
    )
    return 0


def _stop_on_signal() -> threading.Event:
    """Set on SIGTERM or SIGINT. Installed before anything starts: a SIGTERM that arrives while the
    process is still starting (its /healthz already answering) must stop it cleanly, not kill it."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    return stop


def _wait_for_stop_signal(stop: threading.Event) -> None:
    stop.wait()


def _serve_socket_mode(settings: Settings, run_scheduler: bool, *, host: str, port: int) -> int:
    from slack_sdk.errors import SlackApiError

    from bot.runtime import Runtime
    from bot.socket_mode import SocketModeService

    stop = _stop_on_signal()
    runtime = Runtime(settings, Mode.SOCKET, with_scheduler=run_scheduler)
    assert settings.slack_app_token is not None
    try:
        service = SocketModeService(
            runtime, settings.slack_app_token.get_secret_value(), host=host, port=port
        )
    except OSError as exc:
        runtime.close()
        raise ConfigError(
            [f"Cannot serve /healthz on {host}:{port} ({exc.strerror}): set PORT or --port."]
        ) from None
    try:
        service.start()
    except SlackApiError as exc:
        service.close()
        runtime.close()
        raise ConfigError(
            [
                f"Slack refused the Socket Mode connection ({exc.response.get('error')}): SLACK_APP_TOKEN "
                "must be an app-level token (xapp-...) with the connections:write scope, and Socket Mode "
                "must be on in the app's settings."
            ]
        ) from None
    runtime.start_scheduler()
    log.info(
        "Tandem %s in Socket Mode, /healthz and /metrics on %s:%d (scheduler %s)",
        __version__,
        host,
        service.port,
        "on" if run_scheduler else "off",
    )
    _wait_for_stop_signal(stop)
    log.info("stopping")
    service.close()
    runtime.close()
    return 0


def _scheduler(settings: Settings, args: argparse.Namespace) -> int:
    from bot.runtime import Runtime

    # The scheduler posts on the workspaces' behalf, so it needs the same Slack settings as the app.
    mode = settings.resolve_mode()
    stop = _stop_on_signal()
    _prepare_database(settings, migrate=not args.no_migrate)
    server_secret_key(settings)
    runtime = Runtime(settings, mode, with_app=False, with_scheduler=True)
    runtime.start_scheduler()
    log.info("Tandem %s scheduler running", __version__)
    _wait_for_stop_signal(stop)
    log.info("stopping: letting running jobs finish")
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
