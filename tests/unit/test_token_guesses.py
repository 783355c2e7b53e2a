"""The record of wrong operations tokens: at most five a minute per address, a sliding
window, and a bounded number of addresses."""

from __future__ import annotations

from api.token_guesses import TokenGuesses


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guesses_with(clock: Clock, **options: int) -> TokenGuesses:
    return TokenGuesses(limit=5, window_s=60, clock=clock, **options)


def test_five_wrong_tokens_within_a_minute_make_the_address_wait_out_the_window() -> None:
    # given
    clock = Clock()
    guesses = guesses_with(clock)

    # when five wrong tokens come ten seconds apart
    waits = []
    for _ in range(5):
        waits.append(guesses.wait_seconds("198.51.100.9"))
        guesses.failed("198.51.100.9")
        clock.now += 10

    # then the address waits until the first of them is a minute old
    assert waits == [0, 0, 0, 0, 0]
    assert guesses.wait_seconds("198.51.100.9") == 10


def test_once_the_oldest_failure_leaves_the_window_the_address_gets_one_more_try() -> None:
    # given an address that used its five tries a second apart, from second 0 to second 4
    clock = Clock()
    guesses = guesses_with(clock)
    for _ in range(5):
        guesses.failed("198.51.100.9")
        clock.now += 1

    # when the first is a minute old, and it guesses wrong once more
    clock.now += 55
    allowed = guesses.wait_seconds("198.51.100.9")
    guesses.failed("198.51.100.9")

    # then it had that one try, and waits again until the second one is a minute old
    assert allowed == 0
    assert guesses.wait_seconds("198.51.100.9") == 1


def test_an_address_waits_whole_seconds_and_never_zero_while_refused() -> None:
    # given
    clock = Clock()
    guesses = guesses_with(clock)
    for _ in range(5):
        guesses.failed("198.51.100.9")

    # when 59.5 seconds have gone by
    clock.now += 59.5

    # then
    assert guesses.wait_seconds("198.51.100.9") == 1


def test_other_addresses_are_not_held_back_by_one_guessing() -> None:
    # given
    guesses = guesses_with(Clock())
    for _ in range(5):
        guesses.failed("198.51.100.9")

    # when / then
    assert guesses.wait_seconds("203.0.113.7") == 0


def test_the_record_holds_a_bounded_number_of_addresses_dropping_the_stalest() -> None:
    # given a record of at most three addresses, full
    clock = Clock()
    guesses = guesses_with(clock, max_addresses=3)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        for _ in range(5):
            guesses.failed(address)
        clock.now += 1

    # when a fourth address guesses wrong
    guesses.failed("10.0.0.4")

    # then the one whose last failure is oldest was dropped, the others kept
    assert guesses.addresses() == 3
    assert guesses.wait_seconds("10.0.0.1") == 0
    assert guesses.wait_seconds("10.0.0.3") > 0


def test_addresses_whose_failures_have_aged_out_leave_the_record() -> None:
    # given
    clock = Clock()
    guesses = guesses_with(clock)
    guesses.failed("198.51.100.9")

    # when
    clock.now += 61
    guesses.wait_seconds("198.51.100.9")

    # then
    assert guesses.addresses() == 0
