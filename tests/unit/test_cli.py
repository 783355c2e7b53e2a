"""The command line's parser: what `--help`, `--version` and a bad option tell a newcomer."""

from __future__ import annotations

import argparse
import importlib.metadata
from collections.abc import Iterator

import pytest

from worker.cli import build_parser, main


def every_parser(
    parser: argparse.ArgumentParser, name: str = "rosterjobs"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """`parser` and every subcommand's parser below it, with the words that reach it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from every_parser(sub, f"{name} {sub_name}")


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action for action in parser._actions if not isinstance(action, argparse._SubParsersAction)
    ]


PARSERS = dict(every_parser(build_parser()))


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_of_every_command_says_what_it_does(command: str) -> None:
    # given
    parser = PARSERS[command]

    # then
    for action in options(parser):
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_with_a_default_shows_it_in_the_help(command: str) -> None:
    # given
    parser = PARSERS[command]

    # when
    shown = " ".join(parser.format_help().split())

    # then
    for action in options(parser):
        if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
            continue
        assert f"(default: {action.default})" in shown, (command, action.dest)


def test_every_subcommand_is_described_in_the_list_of_commands() -> None:
    for command, parser in PARSERS.items():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, (command, choice.dest)


def test_jobs_list_names_the_states_it_filters_on() -> None:
    # when
    shown = " ".join(PARSERS["rosterjobs jobs list"].format_help().split())

    # then
    assert "queued, running, completed, completed_with_errors, failed, cancelled" in shown


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    # then
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"rosterjobs {importlib.metadata.version('rosterjobs')}\n"


@pytest.mark.parametrize("option", ["--status", "--kind"])
def test_jobs_list_refuses_a_value_the_api_would_refuse_in_one_line(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    with pytest.raises(SystemExit) as exited:
        main(["jobs", "list", option, "bogus"])

    # then
    assert exited.value.code == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.count("\n") == 1
    assert said.err.startswith(f"rosterjobs jobs list: argument {option}: invalid choice: 'bogus'")


def test_verbose_counts_whether_given_before_or_after_the_command() -> None:
    # when
    before = build_parser().parse_args(["-v", "jobs", "list"])
    after = build_parser().parse_args(["jobs", "list", "-vv"])
    neither = build_parser().parse_args(["jobs", "list"])

    # then
    assert (before.verbose, after.verbose, neither.verbose) == (1, 2, 0)
