"""The import's lowest layer: uploaded bytes counted as they arrive, and decoded text cut
into physical lines, with runs of blank lines passed over cheaply (see `jobs.csv_in`, which
parses those lines as CSV records and checks them against the limits)."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class TooManyBytes(Exception):
    """More than `max_bytes` arrived."""


class CountingReader(io.RawIOBase):
    """The uploaded bytes, counted as they are handed on, so no size header is trusted."""

    def __init__(self, stream: BinaryIO, max_bytes: int) -> None:
        super().__init__()
        self._stream = stream
        self._max_bytes = max_bytes
        self._pending = b""
        self._delivered = 0

    def readable(self) -> bool:
        return True

    def head(self, size: int) -> bytes:
        """The first `size` bytes (fewer if the file is shorter), still to be read after."""
        while len(self._pending) < size and (more := self._stream.read(size - len(self._pending))):
            self._pending += more
        return self._pending

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        target = memoryview(buffer).cast("B")
        data = self._pending[: len(target)] or self._stream.read(len(target))
        self._pending = self._pending[len(data) :]
        self._delivered += len(data)
        if self._delivered > self._max_bytes:
            raise TooManyBytes
        target[: len(data)] = data
        return len(data)


_LINE_END = re.compile(r"[\r\n]")
# Blank lines: runs of line ends, or spaces, tabs and commas up to a line end. Possessive, so
# a long run that is not blank after all is given up in one step.
_BLANK_LINES = re.compile(r"(?:[\r\n]++|[ \t,]++(?:\r\n?|\n))*+")
_BLANK_START = re.compile(r"[ \t,]*+")
_BLANK_CHARS = frozenset(("", " ", "\t", ",", "\r", "\n"))  # "": more must be read to tell


class PhysicalLines:
    """The text's physical lines, each with its line end (CRLF, LF or CR, as csv wants them),
    cut out of blocks of text read ahead, so that `skip_blank_lines` can pass a run of any
    length in a few string operations per block. `blank_lines` counts the lines it passed."""

    def __init__(self, text: io.TextIOWrapper, block: int = 64 * 1024) -> None:
        self._text = text
        self._block = block
        self._buffer = ""
        self._at = 0
        self._ended = False
        self.blank_lines = 0

    def readline(self, cap: int) -> str:
        """The next line with its line end, or only its first `cap` characters; "" at the end."""
        start = self._at
        newline = self._buffer.find("\n", start, start + cap)
        if newline >= 0 and self._buffer.find("\r", start, newline - 1) < 0:
            # LF or CRLF inside the buffer, the usual case: two searches, no pattern
            self._at = newline + 1
            return self._buffer[start : self._at]
        while (end := self._line_end(cap)) is None:
            self._fill()
        line = self._buffer[self._at : end]
        self._at = end
        return line

    def skip_blank_lines(self, cap: int) -> None:
        """Pass over the blank lines that come next; one longer than `cap` is left to `readline`."""
        if self._buffer[self._at : self._at + 1] not in _BLANK_CHARS:
            return  # the usual case, a row of data: not worth a search
        while True:
            end = _match_end(_BLANK_LINES, self._buffer, self._at)
            if end == len(self._buffer) and self._buffer.endswith("\r") and not self._ended:
                end -= 1  # perhaps half a CRLF: the next block tells
            self.blank_lines += _line_ends(self._buffer, self._at, end)
            self._at = end
            if self._ended or not self._may_be_blank(cap):
                return
            self._fill()

    def _may_be_blank(self, cap: int) -> bool:
        """Whether the rest of the buffer may start a blank line that the next block ends."""
        rest = len(self._buffer) - self._at
        if rest == 1 and self._buffer.endswith("\r"):
            return True
        return rest < cap and _match_end(_BLANK_START, self._buffer, self._at) == len(self._buffer)

    def _line_end(self, cap: int) -> int | None:
        """Where the next line ends in the buffer; None when more text must be read first."""
        limit = self._at + cap
        found = _LINE_END.search(self._buffer, self._at, limit)
        if found is None:
            return (
                min(limit, len(self._buffer)) if self._ended or len(self._buffer) >= limit else None
            )
        end = found.end()
        if found.group() == "\r" and end == len(self._buffer) and not self._ended:
            return None  # perhaps half a CRLF
        return end + 1 if found.group() == "\r" and self._buffer.startswith("\n", end) else end

    def _fill(self) -> None:
        more = self._text.read(self._block)
        self._buffer = self._buffer[self._at :] + more
        self._at = 0
        self._ended = not more


def _match_end(pattern: re.Pattern[str], text: str, start: int) -> int:
    """Where `pattern`, which matches the empty string too, stops matching from `start`."""
    found = pattern.match(text, start)
    return start if found is None else found.end()


def _line_ends(text: str, start: int, end: int) -> int:
    """How many lines end in `text[start:end]`: a CRLF is one line end, a lone CR or LF one."""
    return (
        text.count("\n", start, end) + text.count("\r", start, end) - text.count("\r\n", start, end)
    )
