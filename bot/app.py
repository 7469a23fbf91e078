"""The app factory: `create_app(settings, ...)` builds a Bolt app; importing this has no side effects."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.listener import Listener
from slack_bolt.listener.thread_runner import ThreadListenerRunner
from slack_bolt.listener_matcher.builtins import BuiltinListenerMatcher
from slack_bolt.logger.messages import warning_did_not_call_ack
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot import manifest
from bot.config import Mode, Settings
from bot.listeners import register_listeners
from bot.logging_setup import protect_answers_in_logs
from bot.metrics import observed_dispatch
from bot.middleware import register as register_middleware
from bot.services import Services
from bot.slack_client import make_client
from bot.usecases import workspaces
from db.session import Database

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"


class SignallingAck(Ack):
    """Bolt's `ack()`, which also wakes whoever waits for it: the response is set (by the listener's
    ack(), or by Bolt's error handling) and `answered` fires in the same step."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self._response: BoltResponse | None = None

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._response = value
        if value is not None:
            self.answered.set()


class PromptAckRunner(ThreadListenerRunner):
    """Bolt's listener runner, except that the request thread is woken by the ack itself.

    With process_before_response=False, Bolt's `ThreadListenerRunner.run` submits the listener to the
    executor and then polls `while ack.response is None: time.sleep(0.01)`: every request held its
    server thread 10 ms or more after it was acknowledged, and each poll woke a thread that had to
    take the GIL back from the threads doing post-ack work. With `tandem serve`'s 8 threads that
    capped any request at about 750 per second and added up to 10 ms to every ack (bench/README.md).
    Here the same code waits on an event the ack sets, within the same `ack_timeout` (3 s), with
    the same error handling and answers. Anything else (process_before_response, lazy listeners,
    listeners that Bolt acks itself) goes through Bolt's own runner unchanged.
    """

    def run(
        self,
        request: BoltRequest,
        response: BoltResponse,
        listener_name: str,
        listener: Listener,
        starting_time: float | None = None,
    ) -> BoltResponse | None:
        if (
            self.process_before_response
            or request.lazy_only
            or listener.lazy_functions
            or listener.auto_acknowledgement
            or request.context.ack.response is not None  # acknowledged already (nothing to wait for)
        ):
            return super().run(request, response, listener_name, listener, starting_time)
        starting_time = starting_time if starting_time is not None else time.time()
        # Bolt's Ack was created while matching listeners (kwargs injection builds every argument),
        # unused so far; the listener's `ack` argument is built from the context after this point.
        ack = SignallingAck()
        request.context["ack"] = ack
        # From here on, Bolt's own steps (slack_bolt/listener/thread_runner.py, the branch for
        # process_before_response=False without lazy functions), with the wait on the event.
        result: BoltResponse | None = response

        def run_ack_function_asynchronously() -> None:
            nonlocal result
            try:
                self.listener_start_handler.handle(request=request, response=result)
                # None after Tandem's middleware, as in Bolt's own runner (its annotation says otherwise).
                listener.run_ack_function(request=request, response=result)  # type: ignore[arg-type]
            except Exception as e:
                if result is None:
                    result = BoltResponse(status=500)
                result.status = 500
                if ack.response is not None:  # already acknowledged
                    result = None
                self.listener_error_handler.handle(error=e, request=request, response=result)
                ack.response = result
            finally:
                self.listener_completion_handler.handle(request=request, response=result)

        self.listener_executor.submit(run_ack_function_asynchronously)
        deadline = starting_time + listener.ack_timeout
        while ack.response is None:
            remaining = deadline - time.time()
            if remaining < 0:
                break
            ack.answered.wait(remaining)
        if result is None and ack.response is None:
            self.logger.warning(warning_did_not_call_ack(listener_name))
            return None
        if result is None and ack.response is not None:
            return ack.response
        return result


def use_prompt_acks(app: App) -> None:
    """Give `app` the `PromptAckRunner`, with everything of its own runner (handlers, executor)."""
    runner = app.listener_runner
    app._listener_runner = PromptAckRunner(
        logger=runner.logger,
        process_before_response=runner.process_before_response,
        listener_error_handler=runner.listener_error_handler,
        listener_start_handler=runner.listener_start_handler,
        listener_completion_handler=runner.listener_completion_handler,
        listener_executor=runner.listener_executor,
        lazy_listener_runner=runner.lazy_listener_runner,
    )


class PayloadMatcher(BuiltinListenerMatcher):
    """One of Bolt's built-in matchers (`app.action("id")`, `app.command("/tandem")`, ...: a function
    of the payload alone), called with the payload.

    Bolt calls each built-in matcher through its argument injection, which builds every argument a
    listener could ask for (the payload's action, view, shortcut..., and say/respond/complete/...) for
    each listener it tries: about 20 µs per listener, in registration order, before the one that
    matches. The help message's "Got it" comes after six others (bench/README.md). Still a
    `BuiltinListenerMatcher` (the same function, names and logger), so whatever reads Bolt's matchers
    (tests/test_manifest.py) sees what Bolt built."""

    def __init__(self, builtin: BuiltinListenerMatcher) -> None:
        self.func = builtin.func
        self.arg_names = builtin.arg_names
        self.logger = builtin.logger

    def matches(self, req: BoltRequest, resp: BoltResponse) -> bool:
        return bool(self.func(req.body))


def lean_matchers(app: App) -> None:
    """Replace `app`'s built-in payload matchers by `PayloadMatcher`s (the same functions)."""
    for listener in app._listeners:
        listener.matchers = [
            PayloadMatcher(m) if type(m) is BuiltinListenerMatcher and m.arg_names == ["body"] else m
            for m in listener.matchers
        ]


class TandemApp(App):
    """Bolt's App, measured: every request is counted and timed to its acknowledgement (/metrics);
    its request threads are woken by each ack rather than polling for it (`PromptAckRunner`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        use_prompt_acks(self)

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        return observed_dispatch(super().dispatch, req)


def create_app(
    settings: Settings,
    services: Services,
    *,
    mode: Mode | None = None,
    listener_executor: Executor | None = None,
    installation_store: InstallationStore | None = None,
) -> App:
    """Build the Bolt app for `mode` (default: what the settings imply) with every listener registered.

    `listener_executor` runs the work Bolt does after acknowledging; the server passes its own so
    that a graceful shutdown can wait for that work to finish.
    """
    mode = mode or settings.resolve_mode()
    protect_answers_in_logs()
    oauth_settings: OAuthSettings | None = None
    if mode is Mode.OAUTH:
        # Each workspace's token comes from the installation store: the client carries none.
        client = make_client(settings)
        oauth_settings = _oauth_settings(
            settings, services, installation_store or make_installation_store(settings, services.database)
        )
    else:
        # The token travels in the client (Bolt reads it from there for single-team auth).
        client = make_client(settings, settings.bot_token())
    # Socket Mode needs no signing secret: requests arrive over an authenticated websocket.
    verify_requests = mode is not Mode.SOCKET
    app = TandemApp(
        logger=logging.getLogger("tandem.bolt"),
        signing_secret=settings.signing_secret() if verify_requests else "",
        client=client,
        oauth_settings=oauth_settings,
        request_verification_enabled=verify_requests,
        # Acknowledge first, then run the rest of the listener on the executor: Slack's 3 seconds.
        process_before_response=False,
        listener_executor=listener_executor,
        raise_error_for_unhandled_request=False,
    )
    register_middleware(app, services)
    register_listeners(app)
    lean_matchers(app)
    return app


def make_installation_store(settings: Settings, database: Database) -> SQLAlchemyInstallationStore:
    """slack_sdk's store on Tandem's database (its tables are created by Tandem's migrations)."""
    return SQLAlchemyInstallationStore(
        client_id=settings.slack_client_id or "", engine=database.engine, logger=log
    )


def _oauth_settings(
    settings: Settings, services: Services, installation_store: InstallationStore
) -> OAuthSettings:
    engine = services.database.engine
    client_id = settings.slack_client_id or ""

    def on_success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        workspaces.install(
            services,
            installation.team_id or "",
            name=installation.team_name,
            enterprise_id=installation.enterprise_id,
        )
        return args.default.success(args)

    def on_failure(args: FailureArgs) -> BoltResponse:
        log.warning("OAuth installation failed: %s", args.reason)
        return args.default.failure(args)

    return OAuthSettings(
        client_id=client_id,
        client_secret=settings.client_secret(),
        scopes=list(manifest.BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store,
        installation_store_bot_only=True,
        state_store=SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine, logger=log),
        callback_options=CallbackOptions(success=on_success, failure=on_failure),
    )
