"""A pytest plugin (used by check.py): records every Block Kit payload the app sends to the fake Slack."""

from __future__ import annotations

import json
import os
from typing import Any

from tests import fake_slack

OUT = os.environ["TANDEM_BLOCKS_OUT"]
_BLOCK_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"}
_VIEW_METHODS = {"views.open", "views.push", "views.update", "views.publish"}
_record = fake_slack.FakeSlack._record


def _capturing_record(self: fake_slack.FakeSlack, call: fake_slack.Call) -> None:
    params: dict[str, Any] = call.params
    item = None
    if call.method in _BLOCK_METHODS and isinstance(params.get("blocks"), list):
        item = {"kind": "blocks", "method": call.method, "value": params["blocks"]}
    elif call.method in _VIEW_METHODS and isinstance(params.get("view"), dict):
        item = {"kind": "view", "method": call.method, "value": params["view"]}
    if item is not None:
        with open(OUT, "a", encoding="utf-8") as out:
            out.write(json.dumps(item) + "\n")
    _record(self, call)


fake_slack.FakeSlack._record = _capturing_record  # type: ignore[method-assign]
