"""Use cases: one module per feature, each function one thing a person or the clock asks of Tandem.

A use-case function opens its own short units of work (`services.database.read()` / `.begin()`),
calls `db/` for queries, builds messages with the pure builders in `bot/blocks`, speaks to Slack only
through `services.messenger` (never inside a write transaction), records the outcome and returns a
small outcome object. Listeners (`bot/listeners`, Slack's requests) and scheduled jobs (`jobs/`, the
clock's) call the same functions, so a feature behaves the same whoever triggers it.

Layering (pinned by tests/test_layers.py): `db` knows nothing above it; `bot/blocks` builds and
parses Block Kit from plain values; `bot/usecases` uses both and the `Messenger`; listeners and jobs
use the use cases; `bot/runtime.py` wires everything once.
"""
