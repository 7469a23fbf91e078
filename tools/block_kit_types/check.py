"""Check the Block Kit payloads the tests send against Slack's TypeScript types (`@slack/types`).

slack_sdk's models let unknown keys and wrongly typed text objects through; Slack publishes no JSON
schema for Block Kit, but its TypeScript types reject both. This runs wiring tests with a plugin
that records every message, ephemeral reply and view the app sends to the fake Slack, writes each
distinct payload into a TypeScript file as a `KnownBlock[]` or a `View`, and type-checks it with
`tsc --strict` (excess-property checks included). It needs Node.js and npm, so it is a developer
tool, not part of CI:

    (cd tools/block_kit_types && npm install)
    .venv/bin/python tools/block_kit_types/check.py [test files...]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_TESTS = [
    "tests/test_wins.py",
    "tests/test_rituals.py",
    "tests/test_pulses.py",
    "tests/test_app_foundation.py",
    "tests/test_insight.py",
    "tests/test_checkins.py",
    "tests/test_prompt_library.py",
    "tests/test_commands.py",
    "tests/test_workflow_steps.py",
]


def main(tests: list[str]) -> int:
    with tempfile.TemporaryDirectory() as work:
        captured = Path(work) / "captured.jsonl"
        env = {**os.environ, "TANDEM_BLOCKS_OUT": str(captured), "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}"}
        run = [sys.executable, "-m", "pytest", "-q", "-p", "capture_blocks", "-p", "no:cacheprovider", *tests]
        if subprocess.run(run, cwd=ROOT, env=env).returncode != 0:
            print("the tests failed: fix them first", file=sys.stderr)
            return 1
        seen: set[str] = set()
        lines = ['import type { KnownBlock, View } from "@slack/types";']
        for n, line in enumerate(captured.read_text(encoding="utf-8").splitlines()):
            item = json.loads(line)
            key = item["kind"] + json.dumps(item["value"], sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            kind = "KnownBlock[]" if item["kind"] == "blocks" else "View"
            lines.append(
                f"// {item['method']}\nexport const p{n}: {kind} = {json.dumps(item['value'], indent=1)};"
            )
        source = HERE / "payloads.ts"  # beside node_modules, so that @slack/types resolves
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            tsc = [str(HERE / "node_modules" / ".bin" / "tsc"), "--noEmit", "--strict", "--target", "es2020"]
            result = subprocess.run([*tsc, "--moduleResolution", "node", str(source)], cwd=HERE)
        finally:
            source.unlink()
        print(
            f"{len(seen)} distinct payloads checked: {'no' if result.returncode == 0 else 'some'} type errors"
        )
        return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT_TESTS))
