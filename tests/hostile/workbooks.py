"""Hostile XLSX uploads (and files that only look like one), built at test time.

`WORKBOOKS` maps a case's name to a function that makes the upload's bytes. The builders
write XML parts a chunk at a time straight into a deflated zip member, so a sheet of a
million rows never sits in memory as text; the zip bomb is assembled from one deflate
block repeated, with the sizes and CRC a real zip carries, so a few MB unpack to
gigabytes without the test compressing gigabytes.
"""

from __future__ import annotations

import functools
import io
import itertools
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from xml.sax.saxutils import escape

from tests.hostile.files import HEADER, MB, lines, new_student

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHEET_START = DECLARATION + f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_END = b"</sheetData></worksheet>"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
LAST_ROW = 1_048_576
LAST_COLUMN = 16_384  # XFD

Chunks = Iterable[bytes]


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def row_xml(number: int, cells: Sequence[str], extra: str = "") -> bytes:
    """A row of inline-string cells (empty cells left out), then `extra` XML cells."""
    xml = "".join(
        f'<c r="{column_letters(n)}{number}" t="inlineStr"><is><t>{escape(cell)}</t></is></c>'
        for n, cell in enumerate(cells, start=1)
        if cell
    )
    return f'<row r="{number}">{xml}{extra}</row>'.encode()


def csv_cells(row: str) -> list[str]:
    return row.split(",")


def student_rows(first: int, count: int, start_row: int = 2) -> Iterator[bytes]:
    """The header (row 1) when `start_row` is 2, then `count` new students `hostile<n>`."""
    if start_row == 2:
        yield row_xml(1, csv_cells(HEADER))
    for offset in range(count):
        yield row_xml(start_row + offset, csv_cells(new_student(first + offset)))


def workbook(
    sheet: Chunks,
    *,
    shared: Chunks | None = None,
    prefix: dict[str, bytes] | None = None,
    workbook_xml: bytes | None = None,
) -> bytes:
    """A one-sheet workbook ("Students") whose sheet XML is the `sheet` chunks (streamed in,
    never joined) and, if given, whose shared strings part is the `shared` chunks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in (prefix or {}).items():
            package.writestr(name, data)
        for name, data in package_parts(shared is not None, workbook_xml).items():
            package.writestr(name, data)
        with package.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            for chunk in sheet:
                part.write(chunk)
        if shared is not None:
            with package.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
                for chunk in shared:
                    part.write(chunk)
    return buffer.getvalue()


def package_parts(shared: bool, workbook_xml: bytes | None = None) -> dict[str, bytes]:
    shared_type = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    shared_rel = f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
    return {
        "[Content_Types].xml": (
            DECLARATION.decode()
            + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            + (shared_type if shared else "")
            + "</Types>"
        ).encode(),
        "_rels/.rels": (
            f'{DECLARATION.decode()}<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": workbook_xml
        or (
            f'{DECLARATION.decode()}<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="Students" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'{DECLARATION.decode()}<Relationships xmlns="{PKG}">'
            f'<Relationship Id="rId1" Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
            + (shared_rel if shared else "")
            + "</Relationships>"
        ).encode(),
    }


def sheet_of(rows: Chunks) -> Iterator[bytes]:
    yield SHEET_START
    yield from rows
    yield SHEET_END


def _batched(rows: Iterable[bytes], size: int = MB) -> Iterator[bytes]:
    """Small pieces joined into chunks of about `size` bytes (zip writes go faster)."""
    pending: list[bytes] = []
    length = 0
    for row in rows:
        pending.append(row)
        length += len(row)
        if length >= size:
            yield b"".join(pending)
            pending, length = [], 0
    yield b"".join(pending)


# --- zip bombs -----------------------------------------------------------------------------


def _raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already deflated members `(name, deflated, crc, size)`; sizes under 4 GiB."""
    out = io.BytesIO()
    central = []
    for name, deflated, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(deflated),
                size,
                len(encoded),
                0,
            )
            + encoded
        )
        out.write(deflated)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(deflated),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    out.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), start, 0
        )
    )
    return out.getvalue()


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


@functools.cache
def zip_bomb(unpacked: int, *, declared: int | None = None) -> bytes:
    """A workbook whose sheet is a valid XML head, then `unpacked` bytes of spaces (XML
    whitespace), then a header row: the deflate stream is one full-flushed block of a MB
    of spaces repeated, so it costs nothing to build. `declared` lies about the size."""
    block = b" " * MB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(SHEET_START) + packer.flush(zlib.Z_FULL_FLUSH)
    repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert repeated == again  # a full flush forgets the history: every block is the same
    tail_data = row_xml(1, csv_cells(HEADER)) + SHEET_END
    tail = packer.compress(tail_data) + packer.flush()
    blocks = unpacked // MB
    crc = zlib.crc32(SHEET_START)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail_data, crc)
    size = len(SHEET_START) + blocks * MB + len(tail_data)
    members = [(name, *_deflated(data)) for name, data in package_parts(shared=False).items()]
    sheet = head + repeated * blocks + tail
    members.append(("xl/worksheets/sheet1.xml", sheet, crc, declared or size))
    return _raw_zip(members)


# --- XML entities --------------------------------------------------------------------------

LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'.encode()
        for n in range(1, 10)
    )
    + b"]>\n"
)
"""The billion laughs: `&lol9;` expands to 10⁹ "lol"s."""
PASSWD = b'<!DOCTYPE roster [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


def _with_doctype(doctype: bytes, cell: str, *, comment: int = 0) -> Iterator[bytes]:
    """A sheet whose DOCTYPE (after a `comment` characters long comment) declares the
    entity that row 2's First Name refers to."""
    yield DECLARATION
    if comment:
        yield b"<!--" + b"x" * comment + b"-->\n"
    yield doctype
    yield f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
    yield row_xml(1, csv_cells(HEADER))
    cells = csv_cells(new_student(1))
    yield (
        f'<row r="2"><c r="B2" t="inlineStr"><is><t>{cell}</t></is></c>'.encode()
        + row_xml(2, ["", "", *cells[2:]])[len('<row r="2">') :]
    )
    yield SHEET_END


def _shared_with_doctype(doctype: bytes, cell: str) -> bytes:
    shared = (
        DECLARATION
        + doctype
        + f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>{cell}</t></si></sst>'.encode()
    )
    cells = csv_cells(new_student(1))
    row = row_xml(2, ["", "", *cells[2:]])
    row = row.replace(b'<row r="2">', b'<row r="2"><c r="B2" t="s"><v>0</v></c>')
    return workbook(sheet_of([row_xml(1, csv_cells(HEADER)), row]), shared=[shared])


def _workbook_xml_with_laughs(comment: int) -> bytes:
    xml = (
        DECLARATION
        + b"<!--"
        + b"x" * comment
        + b"-->\n"
        + LAUGHS
        + f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'.encode()
        + b'<sheet name="&lol9;" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    return workbook(sheet_of(student_rows(1, 1)), workbook_xml=xml)


# --- shared strings ------------------------------------------------------------------------


def shared_strings(count: int, length: int = 0) -> Iterator[bytes]:
    """`count` different texts (`s0`, `s1`, … padded with `x` to `length` characters)."""
    yield DECLARATION + f'<sst xmlns="{MAIN}" count="{count}" uniqueCount="{count}">'.encode()
    yield from _batched(
        f"<si><t>s{n}{'x' * (length - len(str(n)) - 1)}</t></si>".encode() for n in range(count)
    )
    yield b"</sst>"


def _rows_of_shared(count: int, length: int = 0) -> bytes:
    """Three new students whose First Name is a shared string out of `count`."""
    rows = [row_xml(1, csv_cells(HEADER))]
    for n in range(1, 4):
        cells = csv_cells(new_student(n))
        row = row_xml(n + 1, ["", "", *cells[2:]])
        index = count - n
        rows.append(
            row.replace(
                f'<row r="{n + 1}">'.encode(),
                f'<row r="{n + 1}"><c r="B{n + 1}" t="s"><v>{index}</v></c>'.encode(),
            )
        )
    return workbook(sheet_of(rows), shared=shared_strings(count, length))


# --- columns and rows ----------------------------------------------------------------------


def _value_at(column: int) -> bytes:
    """Row 2: a student, and a value in `column` too."""
    letters = column_letters(column)
    extra = f'<c r="{letters}2" t="inlineStr"><is><t>stray</t></is></c>'
    return workbook(
        sheet_of([row_xml(1, csv_cells(HEADER)), row_xml(2, csv_cells(new_student(1)), extra)])
    )


def _values_in_every_column() -> bytes:
    cells = "".join(
        f'<c r="{column_letters(n)}2" t="inlineStr"><is><t>v</t></is></c>'
        for n in range(9, LAST_COLUMN + 1)
    )
    return workbook(
        sheet_of([row_xml(1, csv_cells(HEADER)), row_xml(2, csv_cells(new_student(1)), cells)])
    )


def _formatted_empty_cells_to_xfd(rows: int) -> bytes:
    """Every row's cells past the data formatted but empty, out to column XFD."""

    def empty(number: int) -> str:
        return "".join(
            f'<c r="{column_letters(n)}{number}" s="1"/>' for n in range(9, LAST_COLUMN + 1)
        )

    sheet = [row_xml(1, csv_cells(HEADER), empty(1))]
    sheet += [row_xml(n + 1, csv_cells(new_student(n)), empty(n + 1)) for n in range(1, rows + 1)]
    return workbook(sheet_of(sheet))


def _empty_formatted_rows_after(data_rows: int) -> bytes:
    """A few students, then every row down to the sheet's last formatted but empty."""
    empties = (
        f'<row r="{n}" s="1" customFormat="1"><c r="A{n}" s="1"/><c r="H{n}" s="1"/></row>'
        for n in range(data_rows + 2, LAST_ROW + 1)
    )
    rows = itertools.chain(student_rows(1, data_rows), (row.encode() for row in empties))
    return workbook(sheet_of(_batched(rows)))


# --- not workbooks, or not readable ones ---------------------------------------------------


def _ole2(*names: str) -> bytes:
    """A minimal OLE2 compound file: the header, then one directory sector holding the
    root entry and a stream entry per name. Not a real Office file (no FAT, no streams):
    only what an importer can look at to tell an old .xls from an encrypted .xlsx. Office
    saves a password-protected workbook as such a container holding the streams
    EncryptionInfo and EncryptedPackage; writing a real one needs the encryption itself."""
    header = bytearray(512)
    header[:8] = OLE2
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<L", header, 48, 0)  # the directory's first sector
    struct.pack_into("<L", header, 60, 0xFFFFFFFE)
    entries = b"".join(
        _directory_entry(name, 5 if n == 0 else 2) for n, name in enumerate(("Root Entry", *names))
    )
    return bytes(header) + entries.ljust(512 * ((len(entries) + 511) // 512), b"\0")


def _directory_entry(name: str, kind: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    entry = bytearray(128)
    entry[: len(encoded)] = encoded
    struct.pack_into("<HBB", entry, 64, len(encoded), kind, 1)
    struct.pack_into("<lll", entry, 68, -1, -1, -1)
    return bytes(entry)


def _ods() -> bytes:
    """An OpenDocument spreadsheet's container: `mimetype` first, stored, then content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        package.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
            'manifest:1.0"/>',
            zipfile.ZIP_DEFLATED,
        )
        package.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _truncated() -> bytes:
    whole = workbook(sheet_of(student_rows(1, 200)))
    return whole[: len(whole) // 2]


WORKBOOKS: dict[str, Callable[[], bytes]] = {
    "zip_bomb_of_three_gigabytes": lambda: zip_bomb(3 * 1024 * MB),
    "zip_bomb_declaring_a_small_size": lambda: zip_bomb(3 * 1024 * MB, declared=100_000),
    "billion_laughs_in_the_sheet": lambda: workbook(_with_doctype(LAUGHS, "&lol9;")),
    "billion_laughs_in_shared_strings": lambda: _shared_with_doctype(LAUGHS, "&lol9;"),
    "billion_laughs_after_a_long_comment_in_the_sheet": lambda: workbook(
        _with_doctype(LAUGHS, "&lol9;", comment=8_000)
    ),
    "billion_laughs_after_a_long_comment_in_the_workbook_part": lambda: _workbook_xml_with_laughs(
        8_000
    ),
    "external_entity_in_the_sheet": lambda: workbook(_with_doctype(PASSWD, "&xxe;")),
    "external_entity_in_shared_strings": lambda: _shared_with_doctype(PASSWD, "&xxe;"),
    "external_entity_after_a_long_comment_in_the_sheet": lambda: workbook(
        _with_doctype(PASSWD, "&xxe;", comment=8_000)
    ),
    "shared_strings_over_the_limit": lambda: _rows_of_shared(3_000_001),
    "two_hundred_thousand_shared_strings": lambda: _rows_of_shared(200_000),
    "long_shared_strings_unpacking_far_past_the_upload": lambda: _rows_of_shared(200_000, 1_000),
    "a_value_in_column_xfd": lambda: _value_at(LAST_COLUMN),
    "values_in_all_16384_columns": _values_in_every_column,
    "formatted_empty_cells_out_to_column_xfd": lambda: _formatted_empty_cells_to_xfd(3),
    "a_million_empty_formatted_rows_after_the_data": lambda: _empty_formatted_rows_after(3),
    "password_protected_workbook": lambda: _ole2("EncryptionInfo", "EncryptedPackage"),
    "excel_97_2003_xls": lambda: _ole2("Workbook", "SummaryInformation"),
    "opendocument_ods": _ods,
    "truncated_xlsx": _truncated,
    "csv_named_xlsx": lambda: lines(HEADER, new_student(1), new_student(2)),
}


def _one_long_inline_cell(size: int) -> bytes:
    """Row 2's First Name an inline string of `size` characters, streamed in."""
    cells = csv_cells(new_student(1))
    row = row_xml(2, ["", "", *cells[2:]])
    start = b'<row r="2"><c r="B2" t="inlineStr"><is><t>'
    rest = b"</t></is></c>" + row[len(b'<row r="2">') :]
    sheet = [row_xml(1, csv_cells(HEADER)), start, *_repeat_chunks(b"a", size), rest]
    return workbook(sheet_of(sheet))


def _one_long_shared_string(size: int) -> bytes:
    cells = csv_cells(new_student(1))
    row = row_xml(2, ["", "", *cells[2:]]).replace(
        b'<row r="2">', b'<row r="2"><c r="B2" t="s"><v>0</v></c>'
    )
    shared = [
        DECLARATION + f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>'.encode(),
        *_repeat_chunks(b"a", size),
        b"</t></si></sst>",
    ]
    return workbook(sheet_of([row_xml(1, csv_cells(HEADER)), row]), shared=shared)


def _repeat_chunks(byte: bytes, total: int) -> Iterator[bytes]:
    chunk = byte * MB
    for start in range(0, total, MB):
        yield chunk[: min(MB, total - start)]


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("students.csv", lines(HEADER, new_student(1)))
    return buffer.getvalue()


WORKBOOKS |= {
    "one_inline_cell_of_fifty_mb": lambda: _one_long_inline_cell(50 * MB),
    "one_shared_string_of_sixty_mb": lambda: _one_long_shared_string(60 * MB),
    "plain_zip_named_xlsx": _plain_zip,
}
