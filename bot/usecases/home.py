"""The App Home tab: what it shows a person, and publishing it without ever holding up an action."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.blocks.home import HomePulse, HomeRitual, build_home
from bot.blocks.pairing import home_pairing_blocks
from bot.messenger import DeliveryError, Messenger
from bot.services import Services
from bot.usecases import pairing
from bot.usecases.access import Actor, workspace_id_of
from bot.usecases.commitments import commitment_view
from bot.usecases.summaries import summary
from bot.usecases.wins import win_view
from db import pulses as pulse_db
from db.clock import Clock
from db.commitments import local_today, open_for_user, ritual_zones
from db.people import find_person, get_or_create_person
from db.pulses import last_closed_pulse
from db.rituals import cadence_of, skipped_times, user_rituals
from db.session import Database
from db.wins import wins_crediting
from db.workspaces import ensure_workspace

log = logging.getLogger(__name__)

HOME_WINS = 10  # the home shows the most recent wins; the builder counts the rest


def home_view(
    session: Session, team_id: str, user_id: str, *, now: dt.datetime, min_answers: int
) -> dict[str, Any]:
    """A person's Home tab: their check-ins, the latest pulse of each, their open commitments and wins."""
    workspace_id = workspace_id_of(session, team_id)
    if not workspace_id:
        return build_home(user_id=user_id, rituals=(), pulses=(), commitments=(), wins=()).to_dict()
    person = find_person(session, workspace_id, user_id)
    user_zone = ZoneInfo(person.timezone) if person and person.timezone else None
    home_rituals, home_pulses = [], []
    for ritual in user_rituals(session, workspace_id, user_id):
        info = summary(ritual, now, skipped_times(session, ritual.id, now))
        nxt = info.next_local
        home_rituals.append(HomeRitual(info, nxt.astimezone(user_zone) if nxt and user_zone else nxt))
        latest = last_closed_pulse(session, ritual.id)
        if latest is not None and latest.closed_at is not None:
            home_pulses.append(
                HomePulse(
                    ritual.name,
                    pulse_db.results(session, latest, min_answers=min_answers),
                    latest.closed_at.astimezone(user_zone or cadence_of(ritual).zone),
                )
            )
    mine = open_for_user(session, workspace_id, user_id)
    # Overdue as the nudge sees it: past the due date in the commitment's ritual's timezone.
    zones = ritual_zones(session, (c.ritual_id for c in mine))
    commitments = [commitment_view(c, today=local_today(c, zones, now)) for c in mine]
    wins, wins_total = wins_crediting(session, workspace_id, user_id, limit=HOME_WINS)
    zone = user_zone or dt.UTC
    view = build_home(
        user_id=user_id,
        rituals=home_rituals,
        pulses=home_pulses,
        commitments=commitments,
        wins=[win_view(w, zone) for w in wins],
        wins_total=wins_total,
    ).to_dict()
    return _with_pairings(view, session, workspace_id, user_id, now=now, zone=zone)


def _with_pairings(
    view: dict[str, Any],
    session: Session,
    workspace_id: int,
    user_id: str,
    *,
    now: dt.datetime,
    zone: dt.tzinfo,
) -> dict[str, Any]:
    """The person's current one-to-one and past ones, after everything else on the tab."""
    blocks = home_pairing_blocks(pairing.home_pairings(session, workspace_id, user_id, now=now, zone=zone))
    if blocks:
        # A Home tab holds at most 100 blocks: the pairing section gives way rather than break it.
        room = 100 - len(view["blocks"])
        view["blocks"] = view["blocks"] + [b.to_dict() for b in blocks][: max(0, room)]
    return view


def open_home(services: Services, actor: Actor) -> bool:
    """Someone opened their Home tab: publish it, in their own timezone (asked of Slack once).

    Returns whether the tab was published."""
    with services.database.begin() as session:
        workspace = ensure_workspace(session, actor.team_id)
        needs_timezone = get_or_create_person(session, workspace.id, actor.user_id).timezone is None
    if needs_timezone:
        try:
            timezone = services.messenger.user_info(actor.team_id, actor.user_id).timezone
        except DeliveryError as exc:
            # Shown in UTC this time; the next opening asks again.
            log.warning("the timezone of a user could not be learnt: %s", exc.reason)
        else:
            with services.database.begin() as session:
                workspace = ensure_workspace(session, actor.team_id)
                get_or_create_person(session, workspace.id, actor.user_id).timezone = timezone
    return services.homes.publish(actor.team_id, actor.user_id)


class HomePublisher:
    """Publishes App Home tabs from a background thread: a failed publish (rate limit, unknown user)
    is retried by the Web API client or dropped with a log line, and never blocks the action that
    asked for it."""

    def __init__(
        self, database: Database, messenger: Messenger, clock: Clock, *, min_answers: int = 3
    ) -> None:
        self.database = database
        self.messenger = messenger
        self.clock = clock
        self.min_answers = min_answers
        self._pending: dict[tuple[str, str], None] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="tandem-home", daemon=True)
        self._thread.start()

    def refresh(self, team_id: str, *user_ids: str) -> None:
        with self._cond:
            for user_id in user_ids:
                if user_id:
                    self._pending[(team_id, user_id)] = None
            self._idle.clear()
            self._cond.notify()

    def publish(self, team_id: str, user_id: str) -> bool:
        try:
            with self.database.read() as session:
                view = home_view(
                    session, team_id, user_id, now=self.clock.now(), min_answers=self.min_answers
                )
            self.messenger.publish_home(team_id, user_id, view)
            return True
        except DeliveryError as exc:
            log.warning("the Home tab of a user could not be published (%s); dropped", exc.reason)
        except Exception:
            log.exception("building a Home tab failed; dropped")
        return False

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._idle.set()
                    self._cond.wait()
                if self._stopping and not self._pending:
                    self._idle.set()
                    return
                (team_id, user_id), _ = self._pending.popitem()
            self.publish(team_id, user_id)

    def join(self, timeout: float = 10.0) -> bool:
        return self._idle.wait(timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._pending.clear()  # a Home refresh is only a view; the next app_home_opened rebuilds it
            self._cond.notify_all()
        self._thread.join(timeout=10)
