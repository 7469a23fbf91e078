"""`tandem serve` over HTTP: gunicorn with threaded workers, the scheduler in the (single) worker.

Why gunicorn: it is the most widely deployed production WSGI server, Bolt documents its WSGI adapter
with it, and it gives us a graceful SIGTERM (stop accepting, finish in-flight requests within the
graceful timeout) and a master that restarts a crashed worker, both of which Tandem relies on.
`gthread` workers handle Slack's many small concurrent requests with threads, not processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

log = logging.getLogger(__name__)

# Seconds from SIGTERM until gunicorn's master kills a worker that has not exited. Within it the
# worker finishes in-flight requests (acknowledged within Slack's 3 s), then `Runtime.close()` lets
# acknowledged listener work finish (a few Web API calls, SLACK_TIMEOUT = 10 s each at most), stops
# the scheduler after its running jobs and drains the check-in outbox (up to 20 s, the rest is given
# back). 30 s could cut that short; give the process manager at least this long too.
GRACEFUL_TIMEOUT = 60


class RoutedLogger(GunicornLogger):
    """gunicorn's logger, writing through Tandem's root handler: one format (text or JSON), with
    the same secret redaction, instead of a second format of gunicorn's own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers[:]:
                logger.removeHandler(handler)
            logger.propagate = True


class Served(Protocol):
    """What a worker runs: `bot.runtime.Runtime` (or the benchmark's bare stand-in for it)."""

    @property
    def wsgi(self) -> WSGIApplication | None: ...

    def start_scheduler(self) -> None: ...

    def close(self) -> None: ...


class GunicornServer(BaseApplication):
    """Runs the WSGI app that `build()` makes, building it in each worker after the fork."""

    def __init__(self, build: Callable[[], Served], options: dict[str, Any], *, run_scheduler: bool) -> None:
        self.build = build
        self.options = options
        self.run_scheduler = run_scheduler
        self.runtime: Served | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> Any:
        # Called in the worker process: connections, threads and the scheduler must not cross a fork.
        self.runtime = self.build()
        return self.runtime.wsgi

    def _post_worker_init(self, worker: Any) -> None:
        if self.run_scheduler and self.runtime is not None:
            self.runtime.start_scheduler()

    def _worker_exit(self, server: Any, worker: Any) -> None:
        # gunicorn has already let in-flight requests finish; now let acknowledged listener work and
        # running jobs finish too, so nothing is left half-written.
        if self.runtime is not None:
            self.runtime.close()


def serve_http(
    build: Callable[[], Served],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    run_scheduler: bool,
    access_log: bool,
    log_level: str,
) -> None:
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        # Slack gives up on an interaction after 3 seconds; no request of ours should take 30.
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "loglevel": log_level.lower(),
        "errorlog": "-",
        "accesslog": "-" if access_log else None,
        # The path without the query string: OAuth redirects carry a code that must not be logged.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "proc_name": "tandem",
        "logger_class": RoutedLogger,
    }
    GunicornServer(build, options, run_scheduler=run_scheduler).run()
