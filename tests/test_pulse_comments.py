"""Anonymous comments on pulses, and "Make this a commitment" from results, drift alerts and comments,
driven the way Slack drives them: signed clicks and submissions, the fake Web API's record, a frozen
clock."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot import ids
from bot.blocks import comments as comment_blocks
from bot.blocks.pulse import encode_answer
from bot.usecases.pulses import close_due, open_pulse
from db import comments as comment_db
from db.models import Commitment, CommitmentStatus, Pulse, PulseComment, PulseQuestion, Ritual, Side
from tests.conftest import RunningApp
from tests.fake_slack import Call
from tests.modal_values import commit_values
from tests.ritual_helpers import setup_values
from tests.world import TEAM, World

MARKETING = ("U_M1", "U_M2", "U_M3")
IT = ("U_I1", "U_I2", "U_I3")
CHANNEL = "C_SHARED"
# Pulses close at the ritual's next check-in, Tuesday 08:00 UTC: 17:00 in Tokyo, within working hours,
# so DMs (the drift alert) go out at once rather than being held.
AWAKE = "Asia/Tokyo"


@dataclass
class CommentWorld:
    app: RunningApp
    ritual_id: int
    pulse_id: int

    @property
    def fake(self):  # type: ignore[no-untyped-def]
        return self.app.fake

    def answer(self, user: str, question: PulseQuestion = PulseQuestion.PARTNER, score: int = 3) -> None:
        self.app.slack.block_action(
            f"{ids.ACTION_PULSE_ANSWER_PREFIX}:{question.value}:{score}",
            value=encode_answer(self.pulse_id, question, score),
            user_id=user,
            channel_id=CHANNEL,
            response_url=self.fake.response_url(f"answer-{user}"),
        )

    def open_comment(
        self, user: str, *, value: str | None = None, team_id: str | None = None
    ) -> dict[str, Any] | None:
        """Click "Add a comment" as `user`: the modal opened (None when none was)."""
        before = len(self.fake.calls("views.open"))
        self.app.slack.block_action(
            ids.ACTION_PULSE_COMMENT,
            value=value if value is not None else str(self.pulse_id),
            user_id=user,
            channel_id=CHANNEL,
            team_id=team_id,
            response_url=self.fake.response_url(f"comment-{user}"),
        )
        self.app.drain()
        opened = self.fake.calls("views.open")
        return opened[-1].params["view"] if len(opened) > before else None

    def submit_comment(self, user: str, text: object, *, metadata: str | None = None) -> dict[str, Any]:
        """Submit the comment modal; Slack's answer to the submission ({} when it closes)."""
        response = self.app.slack.view_submission(
            ids.VIEW_PULSE_COMMENT,
            values={
                ids.BLOCK_PULSE_COMMENT_TEXT: {
                    ids.ACTION_PULSE_COMMENT_TEXT: {"type": "plain_text_input", "value": text}
                }
            },
            user_id=user,
            private_metadata=metadata if metadata is not None else json.dumps({"pulse_id": self.pulse_id}),
        )
        assert response.status_code == 200
        self.app.drain()
        return response.json() if response.text else {}

    def comment(self, user: str, text: str) -> None:
        view = self.open_comment(user)
        assert view is not None and view["callback_id"] == ids.VIEW_PULSE_COMMENT
        assert self.submit_comment(user, text, metadata=view["private_metadata"]) == {}

    def close(self) -> None:
        with self.app.services.database.read() as session:
            pulse = session.get(Pulse, self.pulse_id)
            assert pulse is not None
            closes_at = pulse.closes_at
        self.app.clock.set(closes_at + dt.timedelta(seconds=1))
        close_due(self.app.services, now=self.app.clock.now())
        self.app.settle()

    def stored(self) -> list[tuple[str | None, str, str]]:
        with self.app.services.database.read() as session:
            return [
                (voter, side.value, text)
                for voter, side, text in session.execute(
                    select(PulseComment.voter, PulseComment.side, PulseComment.text)
                    .where(PulseComment.pulse_id == self.pulse_id)
                    .order_by(PulseComment.id)
                )
            ]

    def thread_posts(self, text_start: str) -> list[Call]:
        return [
            c
            for c in self.fake.calls("chat.postMessage")
            if c.params.get("thread_ts") and c.params["text"].startswith(text_start)
        ]

    def ephemeral(self, name: str) -> str:
        (call,) = self.fake.wait_for("response_url", lambda c: c.path == f"/response/{name}")
        return str(call.params["text"])


def _everyone(app: RunningApp, *extra: str) -> None:
    people = World(app.services.database, app.clock)
    for user in (*MARKETING, *IT, *extra):
        people.person(user, timezone=AWAKE)
        app.fake.add_user(user, tz=AWAKE, team_id=TEAM)


def start(
    app: RunningApp, *, comments: bool = True, anonymous: bool = True, name: str = "Weekly sync"
) -> CommentWorld:
    app.fake.add_channel(CHANNEL, name="mkt-it", is_member=True)
    _everyone(app)
    ritual_id = World(app.services.database, app.clock).ritual(
        team_id=TEAM,
        channel=CHANNEL,
        marketing=MARKETING,
        it=IT,
        name=name,
        pulse_anonymous=anonymous,
        pulse_comments=comments,
    )
    return next_pulse(app, ritual_id)


def next_pulse(app: RunningApp, ritual_id: int) -> CommentWorld:
    pulse_id = open_pulse(app.services, ritual_id, owner="U_M1")
    assert pulse_id is not None
    app.settle()
    return CommentWorld(app, ritual_id, pulse_id)


@pytest.fixture
def world(running_app: RunningApp) -> Iterator[CommentWorld]:
    yield start(running_app)


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def _rendered(call: Call) -> str:
    return call.params["text"] + json.dumps(call.params["blocks"], ensure_ascii=False)


# -- comments ---------------------------------------------------------------------------------------


def test_the_pulse_offers_a_comment_only_when_the_ritual_allows_it(running_app: RunningApp) -> None:
    world = start(running_app)
    (post,) = world.fake.calls("chat.postMessage")
    assert ids.ACTION_PULSE_COMMENT in {b["action_id"] for b in _buttons(post.params["blocks"])}
    assert world.pulse_id
    running_app.fake.clear()
    plain = start(running_app, comments=False, name="Monthly review")
    post = next(c for c in running_app.fake.calls("chat.postMessage") if c.params["channel"] == CHANNEL)
    assert ids.ACTION_PULSE_COMMENT not in {b["action_id"] for b in _buttons(post.params["blocks"])}
    # A click on a pulse that takes no comments opens nothing and stores nothing.
    assert plain.open_comment("U_M1") is None
    assert "takes no comments" in plain.ephemeral("comment-U_M1")
    assert plain.stored() == []


def test_one_comment_per_person_editable_until_close_with_inline_validation(world: CommentWorld) -> None:
    view = world.open_comment("U_M1")
    assert view is not None
    rendered = json.dumps(view)
    assert "wording can identify you" in rendered  # the writer is told plainly
    world.submit_comment("U_M1", "Tickets wait too long for triage", metadata=view["private_metadata"])
    # Reopening shows their own comment (found through their voter hash), and only theirs.
    again = world.open_comment("U_M1")
    assert again is not None
    field = next(b for b in again["blocks"] if b.get("block_id") == ids.BLOCK_PULSE_COMMENT_TEXT)
    assert field["element"]["initial_value"] == "Tickets wait too long for triage"
    other = world.open_comment("U_I1")
    assert other is not None
    field = next(b for b in other["blocks"] if b.get("block_id") == ids.BLOCK_PULSE_COMMENT_TEXT)
    assert "initial_value" not in field["element"]
    world.submit_comment("U_M1", "Triage got faster, thanks")
    stored = world.stored()
    assert [(side, text) for _, side, text in stored] == [("marketing", "Triage got faster, thanks")]
    voter = stored[0][0]
    assert voter is not None and len(voter) == 64 and "U_M1" not in voter  # keyed like a ballot

    # Empty, blank and too long: an inline error each, and nothing changes.
    for bad in ("", "   \n ", "x" * (comment_db.MAX_COMMENT_CHARS + 1), None, 42):
        answer = world.submit_comment("U_M1", bad)
        assert answer["response_action"] == "errors"
        assert ids.BLOCK_PULSE_COMMENT_TEXT in answer["errors"], bad
    assert world.stored() == stored
    assert comment_blocks.MAX_COMMENT_CHARS == comment_db.MAX_COMMENT_CHARS

    world.close()
    # After close: the button says so and opens nothing; a late submission changes nothing.
    assert world.open_comment("U_M1") is None
    assert "This pulse has closed" in world.fake.responses("comment-U_M1")[-1]["text"]
    late = world.submit_comment("U_M2", "Too late")
    assert late["response_action"] == "errors"
    assert "closed" in late["errors"][ids.BLOCK_PULSE_COMMENT_TEXT]
    assert [v for v, _, _ in world.stored()] == [None]  # the one comment, its writer's key gone
    assert [t for _, _, t in world.stored()] == ["Triage got faster, thanks"]


def test_a_comment_after_close_is_answered_with_the_pulse_closed(world: CommentWorld) -> None:
    world.answer("U_M1")
    world.app.drain()
    world.close()
    world.fake.clear()
    assert world.open_comment("U_M2") is None
    assert "This pulse has closed" in world.ephemeral("comment-U_M2")
    assert world.stored() == []


def test_someone_whose_side_is_unknown_is_asked_first_and_nothing_is_stored(world: CommentWorld) -> None:
    world.app.fake.add_user("U_NEW", tz="UTC", team_id=TEAM)
    assert world.open_comment("U_NEW") is None
    assert "role marketing" in world.ephemeral("comment-U_NEW")
    answer = world.submit_comment("U_NEW", "Hello")
    assert answer["response_action"] == "errors"
    assert world.stored() == []


def test_tampered_and_other_workspace_comments_change_nothing(world: CommentWorld) -> None:
    for value in ("banana", "-1", "99999", str(world.pulse_id) + "0"):
        world.fake.clear()
        assert world.open_comment("U_M1", value=value) is None
    # Another workspace's member naming this workspace's pulse: not found, nothing stored.
    assert world.open_comment("U_M1", team_id="T_OTHER") is None
    answer = world.app.slack.view_submission(
        ids.VIEW_PULSE_COMMENT,
        values={
            ids.BLOCK_PULSE_COMMENT_TEXT: {
                ids.ACTION_PULSE_COMMENT_TEXT: {"type": "plain_text_input", "value": "x"}
            }
        },
        user_id="U_M1",
        team_id="T_OTHER",
        private_metadata=json.dumps({"pulse_id": world.pulse_id}),
    ).json()
    assert answer["response_action"] == "errors"
    for metadata in ("", "{}", '{"pulse_id": "x"}', "not json"):
        assert world.submit_comment("U_M1", "Hello", metadata=metadata)["response_action"] == "errors"
    assert world.stored() == []


def test_comments_go_into_the_thread_by_side_and_a_side_below_the_minimum_is_withheld(
    world: CommentWorld,
) -> None:
    for user in (*MARKETING, "U_I1", "U_I2"):  # marketing 3 answers (the minimum), IT only 2
        world.answer(user)
    world.app.drain()
    world.comment("U_M1", "Release notes come too late for campaigns")
    world.comment("U_M2", "Great help with the landing page")
    world.comment("U_I1", "Briefs change after sign-off")
    world.close()
    (results,) = world.thread_posts("Pulse results")
    (posted,) = world.thread_posts("Comments on the pulse")
    shown = _rendered(posted)
    assert (
        "Release notes come too late for campaigns" in shown and "Great help with the landing page" in shown
    )
    assert "From marketing* (2 comments)" in shown
    # IT reached 2 answers, below the minimum of 3: its comment is withheld, only a sentence is shown.
    assert "Briefs change after sign-off" not in shown
    assert "Comments from IT: withheld: fewer than 3 answered." in shown
    # Nothing names a writer; each shown comment can be made a commitment.
    for user in (*MARKETING, *IT):
        assert user not in shown
    commit_buttons = [
        b for b in _buttons(posted.params["blocks"]) if b["action_id"] == ids.ACTION_COMMIT_FROM
    ]
    assert len(commit_buttons) == 2 and all(b["value"].startswith("comment:") for b in commit_buttons)
    assert posted.params["thread_ts"] == results.params["thread_ts"]
    assert posted.params["metadata"]["event_type"] == "tandem_pulse_comments"


def test_comments_of_both_sides_show_when_both_reached_the_minimum(world: CommentWorld) -> None:
    for user in (*MARKETING, *IT):
        world.answer(user)
    world.app.drain()
    world.comment("U_I3", "Marketing asks early now: thank you")
    world.comment("U_M3", "IT joined the kickoff")
    world.close()
    (posted,) = world.thread_posts("Comments on the pulse")
    shown = _rendered(posted)
    assert shown.index("From marketing") < shown.index("IT joined the kickoff") < shown.index("From IT")
    assert shown.index("From IT") < shown.index("Marketing asks early now: thank you")
    assert "withheld" not in shown.replace("A side's comments show from 3 answers on", "")


def test_many_long_comments_are_split_within_slacks_limits(world: CommentWorld) -> None:
    writers = [f"U_W{n:02d}" for n in range(60)]
    people = World(world.app.services.database, world.app.clock)
    for n, user in enumerate(writers):
        people.person(user, side=Side.MARKETING if n % 2 else Side.IT, timezone=AWAKE)
        world.answer(user)
    world.app.drain()
    for n, user in enumerate(writers):
        world.comment(user, f"{n:02d} " + "& <long> words " * 30)
    world.close()
    posts = world.thread_posts("Comments on the pulse")
    assert len(posts) >= 2
    shown = "".join(_rendered(p) for p in posts)
    for n in range(60):
        assert f"“{n:02d} " in shown
    for post in posts:
        blocks = post.params["blocks"]
        assert len(blocks) <= 50
        assert len(json.dumps(blocks)) < 13_000
        assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


# -- the anonymity of comments in exports -------------------------------------------------------------


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_the_export_lists_shown_comments_by_side_and_never_ties_one_to_a_person(world: CommentWorld) -> None:
    for user in (*MARKETING, "U_I1"):
        world.answer(user)
    world.app.drain()
    world.comment("U_M1", "Shared roadmap please")
    world.comment("U_I1", "Withheld words")
    world.close()
    world.fake.clear()
    world.app.slack.command("export", channel_id=CHANNEL, user_id="U_M1")
    world.app.drain()
    world.fake.wait_for("files.completeUploadExternal")
    files = {c.params["filename"] for c in world.fake.calls("files.getUploadURLExternal")}
    assert files == {"tandem-export.csv"}  # an anonymous pulse: no per-answer file
    (data,) = world.fake.uploads.values()
    rows = _csv_rows(data)
    comments = [r for r in rows if r["section"] == "comment"]
    assert [(r["side"], r["what"]) for r in comments] == [("marketing", "Shared roadmap please")]
    assert all(not r["marketing"] and not r["it"] for r in comments)  # no person column is filled
    text = data.decode()
    assert "Withheld words" not in text
    for user in (*MARKETING, *IT):
        assert user not in text


# -- "Make this a commitment" -------------------------------------------------------------------------


def _click_commit_from(
    world: CommentWorld, value: str, user: str, name: str = "from"
) -> dict[str, Any] | None:
    before = len(world.fake.calls("views.open"))
    world.app.slack.block_action(
        ids.ACTION_COMMIT_FROM,
        value=value,
        user_id=user,
        channel_id=CHANNEL,
        response_url=world.fake.response_url(name),
    )
    world.app.drain()
    opened = world.fake.calls("views.open")
    return opened[-1].params["view"] if len(opened) > before else None


def _save_commitment(world: CommentWorld, view: dict[str, Any], user: str, what: str) -> dict[str, Any]:
    response = world.app.slack.view_submission(
        ids.VIEW_COMMIT,
        values=commit_values(
            what=what,
            marketing_owner="U_M2",
            it_owner="U_I2",
            due=world.app.clock.now().date() + dt.timedelta(days=14),
        ),
        user_id=user,
        private_metadata=view["private_metadata"],
    )
    world.app.drain()
    return response.json() if response.text else {}


def _commitments(world: CommentWorld) -> list[tuple[str, str | None, int | None]]:
    with world.app.services.database.read() as session:
        return [
            (c.what, c.source_kind, c.source_pulse_id)
            for c in session.scalars(select(Commitment).order_by(Commitment.id))
        ]


def _prefilled(view: dict[str, Any]) -> tuple[str, str | None, str | None]:
    blocks = {b["block_id"]: b["element"] for b in view["blocks"] if b.get("block_id")}
    return (
        blocks[ids.BLOCK_COMMIT_WHAT].get("initial_value", ""),
        blocks[ids.BLOCK_COMMIT_MARKETING].get("initial_user"),
        blocks[ids.BLOCK_COMMIT_DUE].get("initial_date"),
    )


def test_a_lead_makes_commitments_from_a_result_a_comment_and_a_drift_alert_and_the_next_results_count_them(
    world: CommentWorld,
) -> None:
    app = world.app
    # Two earlier pulses, so that this one's close finds the score falling a second time: a drift.
    earlier = World(app.services.database, app.clock)
    for weeks_ago, score in ((3, 5), (2, 4)):
        earlier.tallied_pulse(
            world.ritual_id,
            opened_at=app.clock.now() - dt.timedelta(weeks=weeks_ago),
            marketing={score: 3},
            it={score: 3},
        )
    for user in (*MARKETING, *IT):
        world.answer(user, PulseQuestion.PARTNER, 2)
    app.drain()
    world.comment("U_M2", "Agree on one intake form")
    world.close()
    (results,) = world.thread_posts("Pulse results")
    (from_result,) = [
        b for b in _buttons(results.params["blocks"]) if b["action_id"] == ids.ACTION_COMMIT_FROM
    ]
    assert from_result["value"] == f"result:{world.pulse_id}"
    (posted,) = world.thread_posts("Comments on the pulse")
    (from_comment,) = [
        b for b in _buttons(posted.params["blocks"]) if b["action_id"] == ids.ACTION_COMMIT_FROM
    ]

    # Not a lead (U_M2 is a member, not the first named): a clear refusal, no modal, nothing stored.
    assert _click_commit_from(world, from_result["value"], "U_M2", "not-lead") is None
    assert "Only the check-in's two leads" in world.ephemeral("not-lead")

    # The lead (U_M1, first named in marketing): the commitment modal, prefilled, owners to choose.
    view = _click_commit_from(world, from_result["value"], "U_M1")
    assert view is not None and view["callback_id"] == ids.VIEW_COMMIT
    what, owner, due = _prefilled(view)
    assert what.startswith("Act on the pulse results of Weekly sync") and owner is None
    assert due == (app.clock.now().date() + dt.timedelta(days=14)).isoformat()
    assert _save_commitment(world, view, "U_M1", what) == {}

    view = _click_commit_from(world, from_comment["value"], "U_I1")  # the IT lead
    assert view is not None
    assert _prefilled(view)[0] == "Agree on one intake form"
    assert _save_commitment(world, view, "U_I1", "Agree on one intake form") == {}

    # The close found the partnership score falling for the second time (5 → 4 → 2): both leads got
    # the drift alert, then a DM with the button.
    offers = [
        c
        for c in world.fake.calls("chat.postMessage")
        if c.params["channel"] in ("U_M1", "U_I1")
        and ids.ACTION_COMMIT_FROM in json.dumps(c.params.get("blocks"))
    ]
    assert sorted(c.params["channel"] for c in offers) == ["U_I1", "U_M1"]
    (from_drift,) = [
        b for b in _buttons(offers[0].params["blocks"]) if b["action_id"] == ids.ACTION_COMMIT_FROM
    ]
    assert from_drift["value"] == f"drift:{world.pulse_id}"
    view = _click_commit_from(world, from_drift["value"], "U_M1")
    assert view is not None
    assert _prefilled(view)[0].startswith("Turn around the falling partnership score")
    assert _save_commitment(world, view, "U_M1", "Fix the drift") == {}

    made = _commitments(world)
    assert [(kind, pulse) for _, kind, pulse in made] == [
        ("result", world.pulse_id),
        ("comment", world.pulse_id),
        ("drift", world.pulse_id),
    ]
    # One of them is done by the next pulse.
    with app.services.database.begin() as session:
        first = session.scalars(select(Commitment).order_by(Commitment.id)).first()
        assert first is not None
        first.status, first.closed_at, first.closed_by = CommitmentStatus.DONE, app.clock.now(), "U_M2"

    app.clock.set(app.clock.now() + dt.timedelta(days=1))
    following = next_pulse(app, world.ritual_id)
    for user in (*MARKETING, *IT):
        following.answer(user)
    app.drain()
    following.close()
    (later,) = [
        c
        for c in following.thread_posts("Pulse results")
        if f"result:{following.pulse_id}" in [b["value"] for b in _buttons(c.params["blocks"])]
    ]
    assert "3 commitments came from the last pulse; 1 is done" in _rendered(later)


def test_tampered_or_other_workspace_sources_get_a_clear_error_and_change_nothing(
    world: CommentWorld,
) -> None:
    for user in (*MARKETING, *IT):
        world.answer(user)
    world.app.drain()
    world.comment("U_M2", "Something")
    world.close()
    # Garbled values: unreadable.
    for n, value in enumerate(("banana", "result:", "result:abc", "vote:1", "result:-1", "comment:01")):
        assert _click_commit_from(world, value, "U_M1", f"bad{n}") is None
        assert "could not be read" in world.ephemeral(f"bad{n}")
    # Well formed but unknown, or another workspace's pulse: not found.
    other = World(world.app.services.database, world.app.clock)
    other_ritual = other.ritual(team_id="T_OTHER", marketing=("U_X1",), it=("U_X2",))
    foreign = other.pulse(other_ritual, closed=True)
    for n, value in enumerate((f"result:{foreign}", f"drift:{foreign}", "comment:999999", "result:999999")):
        assert _click_commit_from(world, value, "U_M1", f"nf{n}") is None
        assert "not one of this workspace's" in world.ephemeral(f"nf{n}")
    # A lead of the other workspace naming this workspace's pulse: not found either.
    world.app.slack.block_action(
        ids.ACTION_COMMIT_FROM,
        value=f"result:{world.pulse_id}",
        user_id="U_X1",
        team_id="T_OTHER",
        channel_id="C_X",
        response_url=world.fake.response_url("foreign-lead"),
    )
    world.app.drain()
    assert "not one of this workspace's" in world.ephemeral("foreign-lead")

    # A modal whose source metadata was tampered with: an inline error and nothing saved.
    view = _click_commit_from(world, f"result:{world.pulse_id}", "U_M1")
    assert view is not None
    metadata = json.loads(view["private_metadata"])
    for tampered in (
        {**metadata, "source_kind": "vote"},
        {**metadata, "source_pulse_id": "x"},
        {**metadata, "source_pulse_id": foreign},  # another workspace's pulse
        {k: v for k, v in metadata.items() if k != "source_kind"},
    ):
        answer = _save_commitment(world, {"private_metadata": json.dumps(tampered)}, "U_M1", "Nope")
        assert answer["response_action"] == "errors", tampered
        assert ids.BLOCK_COMMIT_WHAT in answer["errors"]
    # Someone not a lead submitting a lead's modal: refused too.
    answer = _save_commitment(world, view, "U_M2", "Nope")
    assert answer["response_action"] == "errors"
    assert _commitments(world) == []


# -- the ritual setting -------------------------------------------------------------------------------


def test_the_setup_modal_turns_comments_on_and_shows_the_setting_when_editing(
    running_app: RunningApp,
) -> None:
    fake = running_app.fake
    fake.add_user("U_MKT1", name="maria", tz="Europe/Berlin")
    fake.add_user("U_IT1", name="ivan", tz="Europe/Berlin")
    fake.add_channel(CHANNEL, name="mkt-it", is_member=True)
    running_app.slack.command("setup", user_id="U_MKT1", channel_id=CHANNEL)
    (call,) = fake.wait_for("views.open")
    block = next(b for b in call.params["view"]["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_COMMENTS)
    assert "Allow anonymous comments on pulses" in json.dumps(block)
    assert "initial_options" not in block["element"]  # off unless chosen
    values = setup_values()
    values[ids.BLOCK_SETUP_COMMENTS] = {
        ids.ACTION_SETUP_COMMENTS: {
            "type": "checkboxes",
            "selected_options": [{"text": {"type": "plain_text", "text": "comments"}, "value": "comments"}],
        }
    }
    response = running_app.slack.view_submission(ids.VIEW_SETUP, values=values, user_id="U_MKT1")
    assert response.status_code == 200 and not response.text
    running_app.drain()
    with running_app.services.database.read() as session:
        assert session.scalars(select(Ritual.pulse_comments)).one() is True
    fake.clear()
    running_app.slack.command("edit", user_id="U_MKT1", channel_id=CHANNEL)
    (call,) = fake.wait_for("views.open")
    block = next(b for b in call.params["view"]["blocks"] if b.get("block_id") == ids.BLOCK_SETUP_COMMENTS)
    assert [o["value"] for o in block["element"]["initial_options"]] == ["comments"]
    # Saved again without the box ticked (an older form, or unticked): off.
    running_app.slack.view_submission(
        ids.VIEW_SETUP,
        values=setup_values(),
        user_id="U_MKT1",
        private_metadata=call.params["view"]["private_metadata"],
    )
    running_app.drain()
    with running_app.services.database.read() as session:
        assert session.scalars(select(Ritual.pulse_comments)).one() is False


# -- builders and parsers -----------------------------------------------------------------------------


def test_no_comment_posts_nothing_and_a_side_that_answered_is_withheld_whether_or_not_it_commented() -> None:
    sides = [
        comment_blocks.SideComments(Side.MARKETING, 5, []),
        comment_blocks.SideComments(Side.IT, 1, []),
        comment_blocks.SideComments(Side.OTHER, 0, []),
    ]
    assert comment_blocks.build_comment_messages("Weekly sync", sides, min_answers=3) == []
    sides[0] = comment_blocks.SideComments(Side.MARKETING, 5, [(7, "Fine *bold* <@U_X> & more")])
    ((text, blocks),) = comment_blocks.build_comment_messages("Weekly sync", sides, min_answers=3)
    shown = json.dumps([b.to_dict() for b in blocks])
    # IT answered (1, below the minimum) but wrote nothing: it is withheld all the same, so the
    # sentence never tells whether a small side commented.
    assert "Comments from IT: withheld: fewer than 3 answered." in shown
    assert "other teams" not in shown  # nobody of other teams answered or commented
    assert "&lt;@U_X&gt; &amp; more" in shown  # escaped: a comment cannot mention or link anyone
    assert text == "Comments on the pulse: Weekly sync"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "result",
        "result:",
        "result:0",
        "result:01",
        "result:+1",
        "result: 1",
        "result:1:2",
        "x" * 50,
        None,
        7,
    ],
)
def test_commit_source_values_are_parsed_strictly(value: object) -> None:
    assert ids.parse_commit_source(value) is None


def test_commit_source_values_round_trip() -> None:
    for kind in ids.COMMIT_SOURCE_KINDS:
        assert ids.parse_commit_source(ids.commit_source_value(kind, 42)) == (kind, 42)
    with pytest.raises(ValueError):
        ids.commit_source_value("vote", 1)
