"""`tests.fake_slack.FakeSlack` in a process of its own, driven over stdin/stdout by `bench.run`.

Why a separate process: during the `click` scenario Tandem POSTs to the interaction's response_url
once per request. If the fake shared the load generator's process, serving those POSTs would compete
with the load generator for the GIL and distort its timing. Here it only competes for a CPU core, the
way a real network peer would not, but that cost is reported (fake CPU per request) rather than hidden.

Protocol (one line each way): the process prints ``{"url": ...}`` once ready, then answers each
command line on stdin with one JSON line:

- ``counts``: ``{method: n}`` for every call recorded since the last ``clear``, plus ``"_errors"``;
- ``clear``: forget recorded calls;
- ``quit`` (or stdin closing, e.g. because the parent died): stop.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tests.fake_slack import FakeSlack


def main() -> int:
    fake = FakeSlack().start()
    try:
        print(json.dumps({"url": fake.url}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "counts":
                counts = Counter(call.method for call in fake.calls())
                print(json.dumps({**counts, "_errors": len(fake.errors)}), flush=True)
            elif command == "clear":
                fake.clear()
                print("{}", flush=True)
            elif command == "quit":
                break
            else:
                print(json.dumps({"_unknown": command}), flush=True)
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
