"""The ritual picker: `/tandem report` and `/tandem export` where no ritual is implied.

Typed in a DM, or in a channel with no ritual or several, without a name, these commands open a
modal of the person's own rituals (`bot/blocks/picker.py`) instead of asking for an exact name; the
pick is then reported or exported by DM, exactly as if it had been named.
"""

from __future__ import annotations

from bot.blocks.picker import Pick, build_ritual_picker
from bot.services import Services
from bot.usecases import insight
from bot.usecases.access import Actor, Refused, workspace_id_of
from bot.usecases.interactions import open_modal
from db.rituals import user_rituals


def open_ritual_picker(services: Services, actor: Actor, trigger_id: str, what: str, *, weeks: int) -> bool:
    """Open the picker of the actor's rituals for `what` ("report" or "export"); False (nothing
    opened) when they are in none."""
    with services.database.read() as session:
        mine = user_rituals(session, workspace_id_of(session, actor.team_id), actor.user_id)
        rituals = sorted(((r.id, r.name) for r in mine), key=lambda r: r[1].lower())
    if not rituals:
        return False
    open_modal(services, actor, trigger_id, build_ritual_picker(what, rituals, weeks=weeks))
    return True


def deliver_pick(services: Services, actor: Actor, pick: Pick) -> Refused | insight.Delivery:
    """The picked ritual's report or export, by DM (the picker has no channel), with the same
    checks as a named one: it must still be in the actor's workspace, and theirs to read."""
    dm = Actor(actor.team_id, actor.user_id)

    def quietly(name: str) -> None:
        # The modal closing is the acknowledgement; the files follow in the DM.
        return None

    if pick.what == "report":
        return insight.share_report(
            services, dm, "", pick.weeks, acknowledge=quietly, ritual_id=pick.ritual_id
        )
    return insight.send_export(services, dm, "", acknowledge=quietly, ritual_id=pick.ritual_id)
