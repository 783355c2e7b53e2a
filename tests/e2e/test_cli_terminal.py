"""`rosterjobs` at a terminal, on the embedded defaults in a fresh working folder: the
person reads the command's own lines and its progress bar; the worker's logs stay out of
sight unless asked for (`-v`), and then keep lines of their own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.processes import cli_json, embedded_env
from tests.terminal import in_terminal

BAR = re.compile(r"\[[#-]{30}\] +\d+\.\d% \d+/\d+ rows [a-z_]+|[a-z_]+: \d+ rows")
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z \[(debug|info|warning) *\] \S+ .*")


def bar_lines(lines: list[str]) -> list[str]:
    """The lines where a progress bar was drawn (whatever else ended up on them)."""
    return [line for line in lines if line.startswith("[") or re.match(r"[a-z_]+: \d+ rows", line)]


@pytest.fixture
def district_admin(tmp_path: Path) -> str:
    """A small district seeded on the embedded defaults in `tmp_path`: its admin's username."""
    summary = cli_json(
        embedded_env(), "seed", "--district", "Lakeside", "--students", "300", cwd=tmp_path
    )
    return str(summary["district_admin"])


def export_args(username: str, *more: str) -> tuple[str, ...]:
    return ("export", "--district", "Lakeside", "--as", username, "--entity", "students", *more)


def test_an_export_waited_on_at_a_terminal_shows_the_bar_alone_on_its_line(
    tmp_path: Path, district_admin: str
) -> None:
    # when
    shown = in_terminal(embedded_env(), *export_args(district_admin, "--wait"), cwd=tmp_path)

    # then the bar holds one line, and nothing but the bar is on it
    assert shown.returncode == 0, shown.lines
    bars = bar_lines(shown.lines)
    assert len(bars) == 1, shown.lines
    assert BAR.fullmatch(bars[0]), bars[0]
    assert bars[0].endswith("300/300 rows completed")
    # and the worker's logs stay out of sight, in no format
    assert not any(line.lstrip().startswith("{") for line in shown.lines), shown.lines
    assert not any("export.started" in line for line in shown.lines), shown.lines
    assert any(line.endswith(": export of students completed") for line in shown.lines)


def test_verbose_logs_at_a_terminal_are_lines_of_their_own_beside_the_bar(
    tmp_path: Path, district_admin: str
) -> None:
    # when
    shown = in_terminal(embedded_env(), *export_args(district_admin, "--wait", "-v"), cwd=tmp_path)

    # then each log line starts a line of its own, as console text, not JSON
    assert shown.returncode == 0, shown.lines
    logged = [line for line in shown.lines if "export.started" in line or "export.finished" in line]
    assert len(logged) == 2, shown.lines
    assert all(LOG_LINE.fullmatch(line) for line in logged), logged
    assert not any(line.lstrip().startswith("{") for line in shown.lines), shown.lines
    # and the bar, drawn again below each of them, never shares their line
    bars = bar_lines(shown.lines)
    assert bars and all(BAR.fullmatch(line) for line in bars), bars
    assert bars[-1].endswith("300/300 rows completed")


def test_with_stderr_sent_elsewhere_the_terminal_keeps_the_bar_and_the_logs_go_as_json(
    tmp_path: Path, district_admin: str
) -> None:
    # given
    log_file = tmp_path / "stderr.log"

    # when: `rosterjobs export --wait 2>stderr.log`
    shown = in_terminal(
        embedded_env(),
        *export_args(district_admin, "--wait"),
        cwd=tmp_path,
        stderr_file=log_file,
    )

    # then the person still sees the bar and the report
    assert shown.returncode == 0, shown.lines
    assert [line for line in bar_lines(shown.lines) if BAR.fullmatch(line)], shown.lines
    assert any(line.endswith(": export of students completed") for line in shown.lines)
    # and the log file gets JSON lines only, the bar none of them
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert {"export.started", "export.finished"} <= {record["event"] for record in records}


def test_seed_at_a_terminal_prints_its_summary_and_no_migration_lines(tmp_path: Path) -> None:
    # when: the first command in a new folder, which creates the schema
    shown = in_terminal(
        embedded_env(), "seed", "--district", "Lakeside", "--students", "50", cwd=tmp_path
    )

    # then
    assert shown.returncode == 0, shown.lines
    assert len(shown.lines) == 1, shown.lines
    assert shown.lines[0].startswith("district 'Lakeside' seeded id 1, 50 students")
