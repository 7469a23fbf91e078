"""The app factory: `create_app(settings, ...)` builds a Bolt app; importing this has no side effects."""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from slack_bolt import App
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


class TandemApp(App):
    """Bolt's App, measured: every request is counted and timed to its acknowledgement (/metrics)."""

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
