"""What jobs need from Slack, as a narrow interface, and how a delivery can fail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class DeliveryError(Exception):
    """Slack would not take a message.

    `pause` means the ritual cannot work until a person fixes something (the bot was removed from
    the channel, the channel was archived or deleted, the token was revoked); `workspace_gone` means
    nobody in the workspace can be told (the token itself no longer works).
    """

    def __init__(self, reason: str, *, pause: bool = False, workspace_gone: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pause = pause
        self.workspace_gone = workspace_gone


class Messenger(Protocol):
    def post(
        self,
        team_id: str,
        channel_id: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]],
        thread_ts: str | None = None,
    ) -> str:
        """Post to a channel (or into a thread); returns the message ts. Raises DeliveryError."""
        ...

    def update(
        self, team_id: str, channel_id: str, ts: str, *, text: str, blocks: Sequence[dict[str, Any]]
    ) -> None:
        """Replace a message Tandem posted. Raises DeliveryError."""
        ...

    def publish_home(self, team_id: str, user_id: str, view: dict[str, Any]) -> None:
        """Publish a person's App Home tab. Raises DeliveryError."""
        ...

    def upload(
        self,
        team_id: str,
        channel_id: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        alt_text: str | None = None,
        initial_comment: str | None = None,
    ) -> None:
        """Upload a file into a channel or DM (files.getUploadURLExternal + completeUploadExternal)."""
        ...

    def dm_channel(self, team_id: str, user_id: str) -> str:
        """The id of the bot's DM with a person (files need a channel id). Raises DeliveryError."""
        ...

    def dm(self, team_id: str, user_id: str, *, text: str, blocks: Sequence[dict[str, Any]]) -> None:
        """Send a direct message. Raises DeliveryError."""
        ...
