"""A workspace installs Tandem, or removes it (uninstall, or its bot token revoked).

Either way the messenger's cached client for the workspace is dropped (after a reinstall a stale
token would be refused and pause its rituals) and the scheduler is told at once, so it starts or
stops the workspace's scheduled work.
"""

from __future__ import annotations

from bot.services import Services
from db.workspaces import record_install, record_uninstall


def install(services: Services, team_id: str, *, name: str | None, enterprise_id: str | None) -> None:
    """An OAuth installation (or reinstallation) succeeded: the workspace is active again."""
    with services.database.begin() as session:
        record_install(session, team_id, name=name, enterprise_id=enterprise_id, now=services.clock.now())
    services.messenger.forget(team_id)  # a reinstall brings a new token
    services.on_schedule_change(team_id)


def uninstall(services: Services, team_id: str) -> None:
    """Tandem was removed, or its bot token revoked: drop the stored tokens, stop scheduled work,
    keep the history (`db.workspaces.record_uninstall`)."""
    with services.database.begin() as session:
        record_uninstall(session, team_id, now=services.clock.now())
    # Its open pulses closed in there: their deleted salts and ballots go from the WAL and free space too.
    services.database.erase_residue()
    services.messenger.forget(team_id)
    services.on_schedule_change(team_id)
