"""How a process chooses to log, and how log lines keep clear of the progress bar."""

from __future__ import annotations

import io
import logging

import pytest

from tests.terminal import screen
from worker.logs import LiveLine, log_choice
from worker.settings import SettingsError


def test_a_command_at_a_terminal_logs_console_lines_at_warning_only() -> None:
    # when
    choice = log_choice(terminal_level=logging.WARNING, environ={}, terminal=True)

    # then
    assert (choice.as_json, choice.level) == (False, logging.WARNING)
    assert "alembic" in choice.quiet
    assert "api.request" in choice.dropped_events


def test_off_a_terminal_a_process_logs_json_lines_at_info_with_every_request() -> None:
    # when
    choice = log_choice(terminal_level=logging.WARNING, environ={}, terminal=False)

    # then
    assert (choice.as_json, choice.level) == (True, logging.INFO)
    assert "alembic" in choice.quiet
    assert not choice.dropped_events


@pytest.mark.parametrize(("verbosity", "level"), [(1, logging.INFO), (2, logging.DEBUG)])
def test_each_verbose_flag_shows_one_level_more_and_the_migrations(
    verbosity: int, level: int
) -> None:
    # when
    choice = log_choice(
        verbosity=verbosity, terminal_level=logging.WARNING, environ={}, terminal=True
    )

    # then
    assert choice.level == level
    assert "alembic" not in choice.quiet
    assert not choice.dropped_events


def test_the_settings_override_what_the_terminal_would_choose() -> None:
    # given
    environ = {"ROSTERJOBS_LOG_FORMAT": "json", "ROSTERJOBS_LOG_LEVEL": "info"}

    # when
    choice = log_choice(terminal_level=logging.WARNING, environ=environ, terminal=True)

    # then: asking for INFO at a terminal is asking for the API's request lines too
    assert (choice.as_json, choice.level) == (True, logging.INFO)
    assert not choice.dropped_events


@pytest.mark.parametrize(
    ("name", "value"), [("ROSTERJOBS_LOG_FORMAT", "xml"), ("ROSTERJOBS_LOG_LEVEL", "LOUD")]
)
def test_a_log_setting_that_cannot_be_read_is_refused_in_one_sentence(
    name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{name} must be .*, not {value!r}\\.$"):
        log_choice(environ={name: value}, terminal=True)


def test_a_log_line_written_while_the_bar_shows_takes_its_place_and_the_bar_moves_below() -> None:
    # given a terminal showing a bar
    terminal = io.StringIO()
    line = LiveLine()
    line.draw(terminal, "queued: 0 rows")

    # when
    with line.set_aside():
        terminal.write("2026-12-07T20:25:35Z [info     ] export.started\n")
    line.draw(terminal, "[###---] 50.0% 1/2 rows running")
    line.finish()

    # then
    assert screen(terminal.getvalue()) == [
        "2026-12-07T20:25:35Z [info     ] export.started",
        "[###---] 50.0% 1/2 rows running",
    ]
