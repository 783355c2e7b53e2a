"""Running `rosterjobs` on a pseudo-terminal, and reading what a terminal would show."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.processes import ROSTERJOBS

ERASE_TO_END = "\x1b[K"


@dataclass(frozen=True)
class Shown:
    """A finished command: the lines its terminal shows, and its exit code."""

    lines: list[str]
    returncode: int


def in_terminal(
    env: dict[str, str],
    *args: str,
    cwd: Path,
    stderr_file: Path | None = None,
    timeout: float = 120,
) -> Shown:
    """`rosterjobs ARGS` with stdout (and stderr, unless `stderr_file`) on a pseudo-terminal,
    as a person at a terminal runs it."""
    main, child = pty.openpty()
    stderr = stderr_file.open("wb") if stderr_file else child
    try:
        process = subprocess.Popen(
            [ROSTERJOBS, *args],
            env=env,
            cwd=cwd,
            stdin=child,
            stdout=child,
            stderr=stderr,
            start_new_session=True,
        )
    finally:
        os.close(child)
        if stderr_file:
            stderr.close()  # type: ignore[union-attr]
    try:
        transcript = _read_until_closed(main, deadline=time.monotonic() + timeout)
    finally:
        os.close(main)
    return Shown(screen(transcript), process.wait(timeout=30))


def _read_until_closed(fd: int, *, deadline: float) -> str:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, b"".join(chunks).decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def screen(transcript: str) -> list[str]:
    """The lines a terminal shows after `transcript`: a carriage return goes back to the
    start of the line, ESC [ K erases to its end, other text overwrites what was there."""
    lines: list[str] = []
    line: list[str] = []
    column = 0
    at = 0
    while at < len(transcript):
        if transcript.startswith(ERASE_TO_END, at):
            del line[column:]
            at += len(ERASE_TO_END)
            continue
        char = transcript[at]
        at += 1
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("".join(line))
            line, column = [], 0
        else:
            line[column : column + 1] = [char]
            column += 1
    if line:
        lines.append("".join(line))
    return lines
