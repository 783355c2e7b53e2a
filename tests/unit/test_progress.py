"""The command line's progress bar."""

from __future__ import annotations

from worker.progress import progress_line


def test_the_bar_fills_with_the_share_of_rows_processed() -> None:
    # when
    line = progress_line("running", 250, 1000)

    # then
    assert line.startswith("[#######-----------------------]")
    assert " 25.0% 250/1000 rows running" in line


def test_a_job_without_a_known_total_shows_its_row_count() -> None:
    assert progress_line("queued", 0, None) == "queued: 0 rows"


def test_the_bar_never_overflows_when_more_rows_than_counted_arrive() -> None:
    assert progress_line("running", 12, 10).startswith("[" + "#" * 30 + "]")
