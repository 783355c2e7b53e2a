"""The README and docs/ say what the code does: every command and option, every setting and
its default, links that lead somewhere. (The curl walkthrough of docs/http-api.md is run
by tests/e2e/test_readme_walkthrough.py.)"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.cli import build_parser
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
SETTING = re.compile(r'"(ROSTERJOBS_[A-Z_]+)"')
GLOBAL_OPTIONS = {"-h", "--help", "-v", "--verbose", "--version"}


def table_row(text: str, first_cell: str) -> str | None:
    """The Markdown table row whose first cell starts with `first_cell`, if any."""
    for line in text.splitlines():
        if line.startswith(f"| {first_cell}"):
            return line
    return None


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable subcommand (`("jobs", "list")`, …) with its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))
            return
    if path:
        yield path, parser


def service_settings() -> list[str]:
    """The ROSTERJOBS_* variables the service reads (settings, and logging at the edge)."""
    sources = [ROOT / "worker" / "settings.py", ROOT / "worker" / "logs.py"]
    return sorted({name for path in sources for name in SETTING.findall(path.read_text())})


def test_the_readme_lists_every_command_with_every_option() -> None:
    readme = README.read_text(encoding="utf-8")
    for path, parser in commands(build_parser()):
        # given a command of the CLI
        row = table_row(readme, f"`rosterjobs {' '.join(path)}")
        # then the README's command table has a row for it, naming each of its options
        assert row, f"README.md's command table has no `rosterjobs {' '.join(path)}`"
        for action in parser._actions:
            for option in set(action.option_strings) - GLOBAL_OPTIONS:
                if option.startswith("--"):
                    assert option in row, f"`rosterjobs {' '.join(path)}` row lacks {option}"


@pytest.mark.parametrize("name", service_settings())
def test_the_configuration_page_lists_every_setting_with_its_default(
    name: str, tmp_path: Path
) -> None:
    # given a variable the service reads, and its default
    row = table_row(CONFIGURATION.read_text(encoding="utf-8"), f"`{name}`")
    assert row, f"docs/configuration.md has no row for {name}"
    field = name.removeprefix("ROSTERJOBS_").lower()
    default = getattr(Settings.from_env({}, cwd=tmp_path), field, ...)  # ... : not a Settings field
    default_cell = row.split("|")[2]
    # then the page's row shows that default
    if default is None:
        assert "unset" in default_cell
    elif isinstance(default, (int, float)):
        shown = f"`{int(default)}`" if default == int(default) else f"`{default}`"
        assert shown in default_cell, f"{name}: {shown} not in {default_cell}"
    elif isinstance(default, str) and name != "ROSTERJOBS_SECRET_KEY":
        assert default in default_cell, f"{name}: {default} not in {default_cell}"


def test_the_readmes_main_settings_are_settings_of_the_service() -> None:
    readme = README.read_text(encoding="utf-8")
    shown = re.findall(r"^\| `(ROSTERJOBS_[A-Z_]+)` \|", readme, re.MULTILINE)
    assert shown == [
        "ROSTERJOBS_DATABASE_URL",
        "ROSTERJOBS_BROKER_URL",
        "ROSTERJOBS_STORAGE_URL",
        "ROSTERJOBS_SECRET_KEY",
        "ROSTERJOBS_LINK_TTL",
    ]
    assert set(shown) <= set(service_settings())


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_link_of_the_docs_leads_to_a_file_of_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc.name} links outside the repository: {target}"
        assert resolved.exists(), f"{doc.name} links to a missing file: {target}"
    assert "shared/DESIGN.md" not in text
