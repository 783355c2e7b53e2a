"""A process-wide setting held while any job needs it (`jobs.process_settings`)."""

from __future__ import annotations

import threading

import pytest

from jobs.process_settings import WhileAnyRuns


class _Dial:
    """A stand-in for an interpreter setting: its value, and every value it was set to."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.writes: list[int] = []

    def read(self) -> int:
        return self.value

    def write(self, value: int) -> None:
        self.value = value
        self.writes.append(value)


def test_the_setting_holds_until_the_last_job_ends_whatever_order_they_end_in() -> None:
    # given a process whose dial reads 5, and two jobs wanting 1
    dial = _Dial(5)
    held = WhileAnyRuns(dial.read, dial.write, 1)
    first, second = held(), held()

    # when the first starts, the second starts, the first ends
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)

    # then the dial still reads 1, set once; it reads 5 again once the second ends
    assert (dial.value, dial.writes) == (1, [1])
    second.__exit__(None, None, None)
    assert (dial.value, dial.writes) == (5, [1, 5])


def test_a_job_that_fails_puts_the_setting_back() -> None:
    # given
    dial = _Dial(700)
    held = WhileAnyRuns(dial.read, dial.write, 50_000)

    # when the job raises
    with pytest.raises(RuntimeError), held():
        assert dial.value == 50_000
        raise RuntimeError("the import failed")

    # then
    assert dial.value == 700


def test_a_setting_changed_between_jobs_is_what_the_next_job_puts_back() -> None:
    # given a job ran, then the process changed its own setting
    dial = _Dial(5)
    held = WhileAnyRuns(dial.read, dial.write, 1)
    with held():
        pass
    dial.value = 9

    # when another job runs
    with held():
        assert dial.value == 1

    # then the process's newer value is back
    assert dial.value == 9


def test_jobs_in_threads_leave_the_process_as_it_was() -> None:
    # given eight threads each entering and leaving many times
    dial = _Dial(5)
    held = WhileAnyRuns(dial.read, dial.write, 1)
    seen: list[int] = []
    start = threading.Barrier(8)

    def job() -> None:
        start.wait()
        for _ in range(200):
            with held():
                seen.append(dial.value)

    threads = [threading.Thread(target=job) for _ in range(8)]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every job saw the held value, and the process has its own again
    assert set(seen) == {1} and len(seen) == 1600
    assert dial.value == 5
