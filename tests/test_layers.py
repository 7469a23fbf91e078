"""Which package may import which, and what a listener may do: pinned by reading the source with `ast`.

Data flows one way (README, "How it is built"): Slack -> `bot/listeners` -> `bot/usecases` -> `db`,
with `bot/blocks` building what goes back and `jobs` calling the same use cases on a schedule.
Every import counts: at module level, inside functions, and under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

ROOT = Path(__file__).resolve().parent.parent
STDLIB = frozenset(sys.stdlib_module_names)


@dataclass(frozen=True)
class Import:
    path: Path  # the importing file
    line: int
    module: str  # the imported module, resolved ("from bot import ids" -> "bot.ids")

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.module}"


def _module_exists(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def imports_of(path: Path, source: str | None = None) -> Iterator[Import]:
    """Every import in `path` (or in `source`, read as if it were `path`), wherever it stands;
    `from a import b` names `a.b` when that is a module."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's own package
                package = _package_of(path).split(".")
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield Import(path, node.lineno, candidate if _module_exists(candidate) else base)


def files_under(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Rule:
    """What the files under `package` may import.

    `first_party` lists the modules of this repository (`bot...`, `db...`, `jobs...`) allowed; any
    other first-party import breaks the rule. `third_party` lists the others allowed besides the
    standard library, or None when any is; `never` is refused whatever the other lists say.
    """

    package: str
    first_party: tuple[str, ...]
    third_party: tuple[str, ...] | None
    never: tuple[str, ...] = ()

    def breaks(self, imp: Import) -> bool:
        module = imp.module
        top = module.split(".", 1)[0]
        if _within(module, self.never):
            return True
        if top in ("bot", "db", "jobs"):
            # A module may import its own package's siblings only where its package is allowed.
            return not _within(module, self.first_party)
        if top in STDLIB:
            return False
        return self.third_party is not None and not _within(module, self.third_party)


RULES = [
    Rule("db", first_party=("db",), third_party=None, never=("slack_bolt", "slack_sdk")),
    Rule(
        "bot/blocks",
        first_party=(
            "bot.ids",
            "bot.blocks",
            "db.models",
            "db.cadence",
            "db.prompt_library",
            "db.theme_questions",
            "db.figures",
        ),
        third_party=("slack_sdk.models",),
    ),
    Rule(
        "bot/usecases",
        first_party=(
            "db",
            "bot.blocks",
            "bot.ids",
            "bot.config",
            "bot.messenger",
            "bot.services",
            "bot.slack_client",
            "bot.charts",
            "bot.usecases",
            "bot.metrics",  # counters only: a use case records what it measured (scheduler lag)
        ),
        third_party=None,
        never=("slack_bolt",),
    ),
    Rule(
        "bot/listeners",
        first_party=(
            "bot.usecases",
            "bot.blocks",
            "bot.ids",
            "bot.middleware",
            "bot.services",
            "bot.listeners",
        ),
        third_party=("slack_bolt", "slack_sdk"),
        never=("sqlalchemy",),
    ),
    Rule(
        "jobs",
        # bot.config: settings are the bottom of every layer (a scheduler built alone makes its own).
        first_party=(
            "db",
            "bot.config",
            "bot.usecases",
            "bot.blocks",
            "bot.messenger",
            "bot.services",
            "jobs",
        ),
        third_party=None,
        never=("slack_bolt",),
    ),
]


def listing(found: list[str]) -> str:
    return "\n  " + "\n  ".join(found)


@pytest.mark.parametrize("rule", RULES, ids=[r.package for r in RULES])
def test_each_layer_imports_only_what_is_below_it(rule: Rule) -> None:
    files = files_under(rule.package)
    assert files, f"no Python files under {rule.package}/"
    broken = list(dict.fromkeys(str(imp) for path in files for imp in imports_of(path) if rule.breaks(imp)))
    assert not broken, f"{rule.package}/ may not import these ({len(broken)}):" + listing(broken)


def test_the_import_reader_sees_every_kind_of_import() -> None:
    # The rules are only as good as the reader: imports in functions and under TYPE_CHECKING count.
    probe = ROOT / "bot" / "listeners" / "probe.py"  # never written: read from the text below
    source = (
        "from typing import TYPE_CHECKING\n"
        "from bot import ids\n"
        "from . import commands\n"
        "if TYPE_CHECKING:\n"
        "    from db.models import Ritual\n"
        "def handler():\n"
        "    import jobs.checkins\n"
        "    from sqlalchemy import select\n"
    )
    modules = [imp.module for imp in imports_of(probe, source)]
    assert modules == [
        "typing",
        "bot.ids",
        "bot.listeners.commands",
        "db.models",
        "jobs.checkins",
        "sqlalchemy",
    ]
    listeners = next(r for r in RULES if r.package == "bot/listeners")
    assert [m for m in modules if listeners.breaks(Import(probe, 1, m))] == [
        "db.models",
        "jobs.checkins",
        "sqlalchemy",
    ]


# -- listeners: no Web API calls, no closures -------------------------------------------------------

# Every Web API method slack_sdk's WebClient has (chat_postMessage, views_open, files_upload_v2,
# conversations_open, users_info, ...), and the generic `api_call`.
WEB_API_METHODS = frozenset(
    name for name in dir(WebClient) if not name.startswith("_") and name not in dir(BaseClient)
) | {"api_call"}
SLACK_CLIENTS = frozenset({"WebClient", "WebhookClient", "AsyncWebClient", "AsyncWebhookClient"})


def listener_files() -> list[Path]:
    return files_under("bot/listeners")


def web_api_calls(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: n.lineno):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if isinstance(func, ast.Attribute) and func.attr in WEB_API_METHODS:
            yield f"{where} calls .{func.attr}(...)"
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in SLACK_CLIENTS:
            yield f"{where} builds a {name} (the Messenger is the one road to Slack)"


def test_listeners_call_no_web_api_method() -> None:
    assert {
        "chat_postMessage",
        "views_open",
        "files_upload_v2",
        "users_info",
        "conversations_open",
    } <= WEB_API_METHODS
    found = [call for path in listener_files() for call in web_api_calls(path)]
    assert not found, (
        f"listeners talk to Slack themselves ({len(found)}); use cases do, through services.messenger:"
        + listing(found)
    )


def closures_in_register(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for top in tree.body:
        if not (isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef) and top.name == "register"):
            continue
        for node in ast.walk(top):
            if node is top:
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{path.relative_to(ROOT)}:{node.lineno} defines {node.name}() inside register()"
            elif isinstance(node, ast.Lambda):
                yield f"{path.relative_to(ROOT)}:{node.lineno} defines a lambda inside register()"


def test_listener_modules_wire_module_level_functions_without_closures() -> None:
    found = [closure for path in listener_files() for closure in closures_in_register(path)]
    assert not found, (
        f"handlers defined inside register() ({len(found)}): make them module-level functions, "
        "and let register(app, ...) only wire ids to them:" + listing(found)
    )
