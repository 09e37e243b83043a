"""The dependency rule of DESIGN.md, read off the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("bot", "handlers", "nlp", "scheduler", "storage")
CHAT_MODULES = {
    "handlers.achievements",
    "handlers.admin",
    "handlers.groups",
    "handlers.ideas",
    "handlers.lists",
    "handlers.projects",
    "handlers.project_forms",
    "handlers.quarterly",
    "handlers.registration",
    "handlers.reviewing",
    "handlers.scores",
    "handlers.supervision",
    "handlers.web_entry",
    "handlers.features",
}
"""What parses chat messages; nothing below the chat may import these."""
DRIVERS = ("sqlite3", "aiosqlite")


def modules() -> dict[str, set[str]]:
    """Every module of ours → the modules it imports (absolute names)."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = imports_of(path)
    return found


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def ours(imported: set[str]) -> set[str]:
    return {name for name in imported if name.split(".")[0] in PACKAGES}


ALL = modules()


@pytest.mark.parametrize("package", ["storage", "nlp"])
def test_storage_and_nlp_depend_on_nothing_of_ours(package: str) -> None:
    for name, imported in ALL.items():
        if name.split(".")[0] == package:
            foreign = {i for i in ours(imported) if i.split(".")[0] != package}
            assert not foreign, (name, foreign)


def test_handlers_depend_only_on_storage_and_nlp() -> None:
    for name, imported in ALL.items():
        if name.startswith("handlers"):
            assert {i.split(".")[0] for i in ours(imported)} <= {"handlers", "storage", "nlp"}, name


def test_the_rules_never_import_a_chat_module() -> None:
    below_chat = [n for n in ALL if n.startswith("handlers.") and n not in CHAT_MODULES]
    assert "handlers.rules.ideas" in below_chat and "handlers.access" in below_chat
    for name in below_chat:
        assert not ALL[name] & CHAT_MODULES, name


def test_scheduler_imports_rules_and_renderers_not_chat_modules() -> None:
    for name, imported in ALL.items():
        if name.startswith("scheduler"):
            assert not imported & CHAT_MODULES, name
            assert not {i for i in ours(imported) if i.split(".")[0] == "bot"}, name


def test_only_storage_speaks_to_the_database_driver() -> None:
    for name, imported in ALL.items():
        if not name.startswith("storage"):
            assert not {i for i in imported if i.split(".")[0] in DRIVERS}, name


def test_only_the_access_module_reads_roles() -> None:
    for package in ("bot", "handlers", "scheduler"):
        for path in (ROOT / package).rglob("*.py"):
            if path != ROOT / "handlers" / "access.py":
                assert ".has_role(" not in path.read_text(encoding="utf-8"), path
