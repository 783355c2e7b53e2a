"""The printable PDF roster: the export's table on numbered pages (`TABLES["pdf"]`).

What a page holds: the title (district, entity, filter, date), the header row, as many rows
as fit, and "Page N of M" at the foot; US Letter, landscape when the columns are too wide
for portrait. The Password column is never printed, whatever was asked. Cells are exact
(no `'` before a formula start: nothing evaluates a PDF).

Rows are collected, then laid out: column widths come from the cells, and the page count
is known before the first page is drawn. That is why a PDF export is capped at
`ROSTERJOBS_PDF_MAX_ROWS` rows (`jobs.requests.check_row_cap`), checked before any work.

Names in any script the roster holds print: DejaVu Sans (Latin, Greek, Cyrillic, Arabic,
Hebrew) is embedded with Droid Sans Fallback (Chinese, Japanese, Korean) for the characters
it lacks; right-to-left and combining text is shaped by HarfBuzz. Both fonts come from
Debian's packages (`fonts-dejavu-core`, `fonts-droid-fallback`); a server without them
fails the export with `FontsMissing`. fpdf2 is imported only when a PDF is drawn: it takes
half a second to import, and most processes never draw one.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from jobs.errors import PermanentJobError
from jobs.pdf_layout import (
    HEADER_MAX_LINES,
    PAD_X,
    PAD_Y,
    column_bounds,
    fit,
    paginate,
    row_height,
    wrap,
)

if TYPE_CHECKING:
    from fpdf import FPDF

PDF_MAX_ROWS = 10_000
"""The default of `ROSTERJOBS_PDF_MAX_ROWS`."""
NEVER_PRINTED = frozenset({"Password"})

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/droid"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
)
"""Where Debian (first two), Fedora and Arch put the fonts."""
FONT_PACKAGES = {
    "DejaVuSans.ttf": "fonts-dejavu-core",
    "DejaVuSans-Bold.ttf": "fonts-dejavu-core",
    "DroidSansFallbackFull.ttf": "fonts-droid-fallback",
}

# Sizes in millimetres (US Letter), fonts in points.
PAGE_SHORT, PAGE_LONG, MARGIN = 215.9, 279.4, 10.0
BODY_PT, SMALLEST_PT, TITLE_PT, FOOT_PT = 8.0, 6.0, 11.0, 7.5
LINE_PER_PT = 0.45
FOOT = 7.0
SIDEWAYS_ROOM = 62.0
"""The most a header standing on its side takes of the page's height, per line."""

_SHAPED = re.compile("[\u0300-\u036f\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefe]")
"""Right-to-left (Hebrew, Arabic…) and combining characters: they need HarfBuzz."""


class FontsMissing(PermanentJobError):
    """This server lacks the fonts a PDF roster embeds; ask its operators to install them."""


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path
    fallback: Path


def find_fonts(dirs: Sequence[Path] = FONT_DIRS) -> FontFiles:
    """The font files, from the first of `dirs` that holds each; `FontsMissing` names the
    Debian packages to install when one is found nowhere."""
    found = {
        name: next((d / name for d in dirs if (d / name).is_file()), None) for name in FONT_PACKAGES
    }
    missing = sorted({FONT_PACKAGES[name] for name, path in found.items() if path is None})
    if missing:
        raise FontsMissing(
            "This server lacks the fonts a PDF roster embeds; ask its operators to install "
            f"the Debian package{'s' if len(missing) > 1 else ''} {' and '.join(missing)}."
        )
    regular, bold, fallback = (found[name] for name in FONT_PACKAGES)
    assert regular and bold and fallback
    return FontFiles(regular, bold, fallback)


class Titled(Protocol):
    """What a PDF takes from the table's layout (`jobs.formats.TableLayout`)."""

    @property
    def title(self) -> str: ...


class PdfRows:
    """Collects the header and the rows, leaving out the columns never printed."""

    def __init__(self) -> None:
        self.header: list[str] | None = None
        self.rows: list[list[str]] = []
        self._kept: list[int] = []

    def writerow(self, cells: Sequence[str], /) -> None:
        if self.header is None:
            self._kept = [i for i, name in enumerate(cells) if name not in NEVER_PRINTED]
            self.header = [cells[i] for i in self._kept]
            return
        self.rows.append([printable(cells[i]) for i in self._kept])


def printable(cell: str) -> str:
    """One line of composed text (NFC): line breaks and tabs become spaces."""
    return " ".join(unicodedata.normalize("NFC", cell).split())


@dataclass(frozen=True)
class PdfTable:
    """The rows as a paginated, printable table (see the module's docstring)."""

    name: str = "pdf"
    extension: str = "pdf"
    media_type: str = "application/pdf"
    neutralised: bool = False
    most_rows: int | None = None  # capped by the setting, before any work (`check_row_cap`)
    font_dirs: tuple[Path, ...] = FONT_DIRS

    @contextmanager
    def rows_into(self, raw: BinaryIO, layout: Titled | None = None) -> Iterator[PdfRows]:
        fonts = find_fonts(self.font_dirs)  # before any row: without fonts, fail at once
        rows = PdfRows()
        yield rows
        title = layout.title if layout is not None else ""
        raw.write(draw_pdf(rows.header or [], rows.rows, title=title, fonts=fonts))


PDF = PdfTable()


def draw_pdf(header: list[str], rows: list[list[str]], *, title: str, fonts: FontFiles) -> bytes:
    """The whole document: every page laid out first, so each knows the page count."""
    pdf = _new_pdf(fonts, title)
    columns = choose_columns(pdf, header, rows)
    head, body = Ink(pdf, "B", columns.size), Ink(pdf, "", columns.size)
    sheet = Sheet(pdf, columns, title=title)
    heading = sheet.heading(header, head)
    laid_out = [sheet.lines(row, body) for row in rows]
    room = sheet.room(sheet.heading_height(heading, head))
    pages = paginate([row_height(lines, body.line) for lines in laid_out], room)
    for number, (start, end) in enumerate(pages, start=1):
        sheet.start_page(heading, head, number=number, of=len(pages))
        for lines in laid_out[start:end]:
            sheet.draw_row(lines, body)
    return bytes(pdf.output())


@dataclass(frozen=True)
class Columns:
    widths: list[float]
    orientation: str
    """`P` (portrait) or `L` (landscape)."""
    size: float
    """The font size of the table, in points."""
    upright: bool
    """Whether the header row is written across; else each header stands on its side."""


def choose_columns(pdf: FPDF, header: list[str], rows: list[list[str]]) -> Columns:
    """Portrait when the columns fit across it at their natural widths, else landscape;
    when even landscape is too narrow, the headers stand on their side and the font gets
    smaller (down to `SMALLEST_PT`) until each column's longest word fits."""
    head, body = Ink(pdf, "B"), Ink(pdf, "")
    natural, _ = column_bounds(header, rows, head=head, body=body)
    for orientation in ("P", "L"):
        if sum(natural) <= usable_width(orientation):
            return Columns(natural, orientation, BODY_PT, upright=True)
    room = usable_width("L")
    natural, least = column_bounds(header, rows, head=head, body=body, upright=False)
    size = BODY_PT
    if sum(least) > room:
        size = max(SMALLEST_PT, BODY_PT * room / sum(least))
        head, body = Ink(pdf, "B", size), Ink(pdf, "", size)
        natural, least = column_bounds(header, rows, head=head, body=body, upright=False)
    return Columns(fit(natural, least, room), "L", size, upright=False)


def usable_width(orientation: str) -> float:
    return (PAGE_SHORT if orientation == "P" else PAGE_LONG) - 2 * MARGIN


def usable_height(orientation: str) -> float:
    return (PAGE_LONG if orientation == "P" else PAGE_SHORT) - 2 * MARGIN


def _new_pdf(fonts: FontFiles, title: str) -> FPDF:
    from fpdf import FPDF

    # fpdf2 warns of glyphs no font has by quoting them: characters of a roster's names.
    logging.getLogger("fpdf.output").setLevel(logging.ERROR)
    pdf = FPDF(unit="mm", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.c_margin = 0
    pdf.str_alias_nb_pages = ""  # pages are counted before drawing; a cell may hold "{nb}"
    pdf.add_font("dejavu", fname=str(fonts.regular))
    pdf.add_font("dejavu", style="B", fname=str(fonts.bold))
    pdf.add_font("fallback", fname=str(fonts.fallback))
    pdf.set_fallback_fonts(["fallback"], exact_match=False)
    pdf.set_title(title or "Roster")
    pdf.set_creator("rosterjobs")
    return pdf


class Ink:
    """Measures and draws text in one style and size: `FPDF.text` (fast) for text the main
    font holds whole, else `FPDF.cell`, which takes the fallback font for missing
    characters and, for right-to-left or combining text, shapes it with HarfBuzz."""

    def __init__(self, pdf: FPDF, style: str = "", size: float = BODY_PT) -> None:
        self.pdf, self.style, self.size = pdf, style, size
        self.line = size * LINE_PER_PT
        self.baseline = 0.5 * self.line + 0.3 * size * 25.4 / 72  # where `cell` puts it
        self.cmap = pdf.fonts["dejavu" + style].cmap  # type: ignore[union-attr]
        self._widths: dict[str, float] = {}

    def use(self) -> None:
        self.pdf.set_font("dejavu", self.style, self.size)

    def width(self, text: str) -> float:
        if _SHAPED.search(text):
            self.use()
            with _shaping(self.pdf):
                return float(self.pdf.get_string_width(text))
        widths = self._widths
        for char in text:
            if char not in widths:
                self.use()
                widths[char] = float(self.pdf.get_string_width(char))
        return sum(widths[char] for char in text)

    def draw(self, x: float, top: float, width: float, line: str) -> None:
        shaped, cmap = _SHAPED.search(line), self.cmap
        if not shaped and all(ord(char) in cmap for char in line):
            self.pdf.text(x, top + self.baseline, line)
            return
        self.pdf.set_xy(x, top)
        if shaped:
            with _shaping(self.pdf):
                self.pdf.cell(width, self.line, line)
        else:
            self.pdf.cell(width, self.line, line)


@contextmanager
def _shaping(pdf: FPDF) -> Iterator[None]:
    pdf.set_text_shaping(True)
    try:
        yield
    finally:
        pdf.set_text_shaping(False)


class Sheet:
    """The pages' furniture (title, header row, "Page N of M") and where the next row goes."""

    def __init__(self, pdf: FPDF, columns: Columns, *, title: str) -> None:
        self.pdf, self.columns, self.orientation = pdf, columns, columns.orientation
        widths = self.widths = columns.widths
        self.lefts = [MARGIN + sum(widths[:i]) for i in range(len(widths))]
        self.right = MARGIN + sum(widths)
        self.title_ink = Ink(pdf, "B", TITLE_PT)
        room = usable_width(self.orientation)
        self.title_lines = wrap(title, room, self.title_ink) if title else []
        self.title_height = len(self.title_lines) * self.title_ink.line + (2.5 if title else 0)
        self.y = MARGIN

    def lines(self, cells: list[str], ink: Ink) -> list[list[str]]:
        pairs = zip(cells, self.widths, strict=True)
        return [wrap(cell, width - 2 * PAD_X, ink) for cell, width in pairs]

    def heading(self, header: list[str], head: Ink) -> list[list[str]]:
        """The header row's lines: across the column, or along it for headers on their side
        (as many lines as the column is wide enough for)."""
        if self.columns.upright:
            pairs = zip(header, self.widths, strict=True)
            return [
                wrap(name, w - 2 * PAD_X, head, max_lines=HEADER_MAX_LINES) for name, w in pairs
            ]
        return [
            wrap(name, SIDEWAYS_ROOM, head, max_lines=max(1, int((w - 2 * PAD_X) // head.line)))
            for name, w in zip(header, self.widths, strict=True)
        ]

    def heading_height(self, heading: list[list[str]], head: Ink) -> float:
        if self.columns.upright:
            return row_height(heading, head.line)
        longest = max([0.0, *(head.width(line) for lines in heading for line in lines)])
        return longest + 2 * PAD_Y

    def room(self, heading_height: float) -> float:
        """The height left for rows on a page, under the title and the header row."""
        return usable_height(self.orientation) - self.title_height - heading_height - FOOT

    def start_page(self, heading: list[list[str]], head: Ink, *, number: int, of: int) -> None:
        pdf = self.pdf
        pdf.add_page(orientation=self.orientation)
        self._draw_title()
        self._draw_foot(f"Page {number} of {of}")
        self.y = MARGIN + self.title_height
        height = self.heading_height(heading, head)
        pdf.set_fill_color(225)
        pdf.rect(MARGIN, self.y, self.right - MARGIN, height, style="F")
        pdf.set_fill_color(0)
        if self.columns.upright:
            self.draw_row(heading, head)
        else:
            self._draw_sideways(heading, head, bottom=self.y + height - PAD_Y)
            self.y += height
            self._rule()

    def draw_row(self, cells: list[list[str]], ink: Ink) -> None:
        ink.use()
        for left, width, lines in zip(self.lefts, self.widths, cells, strict=True):
            for index, line in enumerate(lines):
                ink.draw(left + PAD_X, self.y + PAD_Y + index * ink.line, width - 2 * PAD_X, line)
        self.y += row_height(cells, ink.line)
        self._rule()

    def _draw_sideways(self, heading: list[list[str]], head: Ink, *, bottom: float) -> None:
        """Each header read upwards from the foot of the header row, its lines side by side."""
        head.use()
        for left, lines in zip(self.lefts, heading, strict=True):
            for index, line in enumerate(lines):
                x = left + PAD_X + index * head.line + head.baseline
                with self.pdf.rotation(90, x, bottom):
                    head.draw(x, bottom - head.baseline, SIDEWAYS_ROOM, line)

    def _rule(self) -> None:
        self.pdf.set_draw_color(180)
        self.pdf.set_line_width(0.1)
        self.pdf.line(MARGIN, self.y, self.right, self.y)

    def _draw_title(self) -> None:
        ink = self.title_ink
        ink.use()
        for index, line in enumerate(self.title_lines):
            ink.draw(MARGIN, MARGIN + index * ink.line, usable_width(self.orientation), line)

    def _draw_foot(self, text: str) -> None:
        pdf = self.pdf
        pdf.set_font("dejavu", "", FOOT_PT)
        pdf.set_xy(MARGIN, MARGIN + usable_height(self.orientation) - FOOT_PT * LINE_PER_PT)
        pdf.cell(usable_width(self.orientation), FOOT_PT * LINE_PER_PT, text, align="R")
