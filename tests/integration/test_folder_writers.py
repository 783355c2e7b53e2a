"""The folder store with more than one writer of a key: one at a time, the second refused
at once; a killed writer holds nothing up; and no writer removes another's file."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage.objects import FolderStore, WriteInProgress

ROSTER_CSV = "\ufeffDatabase ID,First Name\r\n101,Zoë\r\n102,Élodie\r\n".encode()
KEY = "imports/7/upload-students.csv"

HALF_WRITTEN = """
import sys, time
from pathlib import Path
from storage.objects import FolderStore

with FolderStore(Path(sys.argv[1])).open_write(sys.argv[2]) as out:
    out.write(b"Database ID,First Name\\r\\n101,")
    out.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def read(store: FolderStore, key: str) -> bytes:
    with store.open_read(key) as stored:
        return stored.read()


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_a_second_writer_of_a_key_being_written_is_refused_and_the_first_is_stored_whole(
    tmp_path: Path,
) -> None:
    # given a writer half way through a key
    store = FolderStore(tmp_path / "objects")
    with store.open_write(KEY) as first:
        first.write(ROSTER_CSV[:20])

        # when a second writer of the same key starts
        with pytest.raises(WriteInProgress), store.open_write(KEY) as second:
            second.write(b"Database ID\r\n")

        first.write(ROSTER_CSV[20:])

    # then the first writer's file is stored whole, and nothing else is left
    assert read(store, KEY) == ROSTER_CSV
    assert files_in(tmp_path / "objects/imports/7") == ["upload-students.csv"]


def test_writing_a_key_leaves_alone_a_live_writer_of_a_longer_named_key(
    tmp_path: Path,
) -> None:
    # given a writer of `students.csv.1`, whose part file looks like one of `students.csv`
    store = FolderStore(tmp_path / "objects")
    with store.open_write("exports/9/students.csv.1") as longer:
        longer.write(ROSTER_CSV[:20])

        # when `students.csv` is written to its end meanwhile
        with store.open_write("exports/9/students.csv") as shorter:
            shorter.write(b"Database ID\r\n")

        longer.write(ROSTER_CSV[20:])

    # then both are stored as written
    assert read(store, "exports/9/students.csv.1") == ROSTER_CSV
    assert read(store, "exports/9/students.csv") == b"Database ID\r\n"


def test_a_writer_killed_mid_write_leaves_the_key_to_the_next_writer(tmp_path: Path) -> None:
    # given a writer process killed (SIGKILL) half way through a key
    store = FolderStore(tmp_path / "objects")
    writer = subprocess.Popen(
        [sys.executable, "-c", HALF_WRITTEN, str(store.root), KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()

    # when the key is written again
    with store.open_write(KEY) as out:
        out.write(ROSTER_CSV)

    # then the new writer was let in, and only its complete file is left
    assert read(store, KEY) == ROSTER_CSV
    assert files_in(tmp_path / "objects/imports/7") == ["upload-students.csv"]
