"""The fast path's row stage and earlier-row filter against what they stand in for."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.csv_in import check_header
from jobs.import_fast import RememberingDecoder
from jobs.import_rows import RowDraft, parse_row
from jobs.import_writes import EarlierKeys
from schemas.columns import Entity, columns_for
from schemas.products import Product

COLUMNS = columns_for(Entity.STUDENTS, tuple(Product))
HEADER = check_header([c.header for c in COLUMNS], entity=Entity.STUDENTS, purchased=Product)

GOOD = {
    "id": ["", "12", "13"],
    "first_name": ["Ana", " Bo ", "Zoë"],
    "last_name": ["Lee", "'=Lee"],
    "username": ["ana1", "ANA1", "bo_2"],
    "password": ["", "secret"],
    "external_id": ["E1", "007"],
    "grade": ["4", "K"],
    "schools": ["North Elementary", "North Elementary;South"],
    "birth_date": ["2015-04-01", ""],
    "session_time": ["30", "45", ""],
}
BAD = {
    "id": ["0", "1.5", "1E+5", "x"],
    "first_name": ["", "a\u202eb"],
    "username": ["bo", "", "has space"],
    "password": ["abc"],
    "grade": ["13", ""],
    "birth_date": ["04/01/2015", "2015-02-30"],
    "session_time": ["abc"],
}
"""Per attribute: cells taken as they are (empty where a cell may be), and refused ones."""


def _cell(attr: str, rng: random.Random) -> str:
    if rng.random() < 0.02:
        return rng.choice(BAD.get(attr, ["x" * 300, "maybe"]))
    return rng.choice(GOOD.get(attr, ["", "Yes", "No", "English"]))


def _ordered(draft: RowDraft) -> tuple[object, ...]:
    """Everything a draft holds, its values and problems in order."""
    values = list(draft.values.items())
    return (draft.row, draft.record_id, values, draft.errors, draft.password, draft.refused)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), limit=st.sampled_from([1, 3, 2048]))
def test_remembered_decoding_builds_every_row_as_parse_row_does(seed: int, limit: int) -> None:
    # given rows of good, empty and refused cells, some short, some with the two Session
    # Time cells disagreeing; and a decoder that may soon give up remembering (`limit`)
    rng = random.Random(seed)
    decoder = RememberingDecoder(limit=limit)
    for row in range(2, 200):
        cells = [_cell(column.attr, rng) for _, column in HEADER.columns]
        if rng.random() < 0.1:
            cells = cells[: rng.randrange(len(cells))]

        # when / then
        expected = parse_row(HEADER, cells, row)
        assert _ordered(decoder.parse_row(HEADER, cells, row)) == _ordered(expected)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), limit=st.sampled_from([1, 3, 2048]), size=st.integers(1, 60))
def test_a_batch_decoded_column_by_column_gives_each_row_parse_row_gives(
    seed: int, limit: int, size: int
) -> None:
    # given batches of rows as above: a cell first seen, and remembered, in the middle of
    # a batch whose other rows were looked up before it was
    rng = random.Random(seed)
    decoder = RememberingDecoder(limit=limit)
    rows = []
    for row in range(2, 200):
        cells = [_cell(column.attr, rng) for _, column in HEADER.columns]
        rows.append((row, cells[: rng.randrange(len(cells))] if rng.random() < 0.1 else cells))
    for start in range(0, len(rows), size):
        batch = rows[start : start + size]

        # when / then
        expected = [_ordered(parse_row(HEADER, cells, row)) for row, cells in batch]
        assert [_ordered(d) for d in decoder.parse_batch(HEADER, batch)] == expected


def test_a_column_of_more_texts_than_the_limit_is_decoded_cell_by_cell_from_then_on() -> None:
    decoder = RememberingDecoder(limit=4)
    for n in range(10):
        cells = [""] * len(HEADER.cells)
        cells[1:8] = [f"N{n}", "L", f"u{n:03d}", "", f"E{n}", "4", "S"]
        draft = decoder.parse_row(HEADER, cells, n + 2)
        assert draft.values["first_name"] == f"N{n}" and not draft.errors
    assert {"First Name", "Username", "External Assigned ID"} <= decoder._direct
    assert "Last Name" not in decoder._direct and "Grade" not in decoder._direct


def test_earlier_keys_answer_maybe_for_every_key_added_and_no_for_ids_never_added() -> None:
    earlier = EarlierKeys()
    added = [f"user{n}" for n in range(5000)]
    earlier.add("claimed_name", [*added, None])
    earlier.add("record_id", range(0, 20_000, 2))

    assert earlier.may_hold("claimed_name", added) == added
    assert earlier.may_hold("record_id", range(0, 20_000, 2)) == list(range(0, 20_000, 2))
    # a record id below the filter's size has a bit of its own: never a false "maybe"
    assert earlier.may_hold("record_id", range(1, 20_000, 2)) == []
    assert earlier.may_hold("claimed_external_id", ["user1"]) == []
    # texts share bits: a few false "maybe" answers, each then looked up in the database
    others = earlier.may_hold("claimed_name", [f"other{n}" for n in range(5000)])
    assert len(others) < 50
