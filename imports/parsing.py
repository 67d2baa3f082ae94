"""Reading spreadsheets as Chinese offices export them: CSV in UTF-8 (with or without BOM) or GBK,
and XLSX. Rows stream; nothing holds a million-row file in memory twice."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.export import FORMULA_PREFIXES

MAX_COLUMNS = 100
REASON_COLUMN = gettext_noop("Reason")  # the last column of a downloaded file of rejected rows


def is_rejected_rows_header(header: list[str]) -> bool:
    """A file of rejected rows as downloaded (the original columns and a reason), in any language."""
    from core.history import in_every_language

    return len(header) > 1 and header[-1].strip() in in_every_language(REASON_COLUMN)


def unquote_cell(text: str) -> str:
    """Undo core.export.safe_cell: "'=x" → "=x"."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_PREFIXES else text


BLOCK = 1 << 20
csv.field_size_limit(1 << 24)  # a long cell is the field's to reject (too long), not the reader's to fail on


def _first_error(path: Path, encoding: str, skip: int = 0) -> tuple[int, bool] | None:
    """Where the whole file stops decoding as `encoding` (byte offset, and whether non-ASCII text came
    before it), or None when all of it decodes. Read in blocks: a file of a million rows takes ~0.2 s."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset, seen_text = skip, False
    with open(path, "rb") as f:
        f.seek(skip)
        while True:
            block = f.read(BLOCK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:  # text before it in this block counts too
                return offset + error.start, seen_text or not block[: max(error.start, 0)].isascii()
            seen_text = seen_text or not text.isascii()
            if not block:
                return None
            offset += len(block)


def detect_encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes as UTF-8, otherwise GB18030 (a superset of GBK/GB2312) when all
    of it decodes so. A file that is UTF-8 text at first and then stops being it (two exports pasted
    together) is refused: read as GB18030, its UTF-8 part would come out as nonsense characters."""
    with open(path, "rb") as f:
        bom = f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8
    utf8 = _first_error(path, "utf-8", skip=len(codecs.BOM_UTF8) if bom else 0)
    if utf8 is None:
        return "utf-8-sig" if bom else "utf-8"
    at, seen_text = utf8
    if bom or seen_text:
        raise ValidationError(
            {
                "file": [
                    _(
                        "The file is UTF-8 text up to byte %(at)d and something else after it. Save it again "
                        "as “CSV UTF-8” and upload it once more."
                    )
                    % {"at": at}
                ]
            }
        )
    if _first_error(path, "gb18030") is None:
        return "gb18030"
    raise ValidationError({"file": [_("The file is neither UTF-8 nor GBK text.")]})


def file_kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "xlsx"
    raise ValidationError({"file": [_("Upload a .csv or .xlsx file.")]})


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores phone numbers as floats
    return str(value).strip()


def iter_rows(path: Path, kind: str) -> Iterator[list[str]]:
    """Every row, header included, as a list of stripped strings."""
    if kind == "csv":
        encoding = detect_encoding(path)
        with open(path, encoding=encoding, newline="") as f:
            sample = f.read(64 * 1024)
            f.seek(0)
            # Only the delimiter is guessed: Excel always quotes with '"', and a guessed quote character
            # would take the apostrophe of "'=x" cells (as exports write them) for one and merge cells.
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
            except csv.Error:
                delimiter = ","
            for row in csv.reader(f, csv.excel, delimiter=delimiter):
                yield [c.strip() for c in row[:MAX_COLUMNS]]
        return
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
    except Exception as error:  # calamine raises its own error types for broken files
        raise ValidationError({"file": [_("This spreadsheet cannot be read: %(e)s") % {"e": error}]}) from None
    for row in sheet.iter_rows():
        yield [_cell(c) for c in row[:MAX_COLUMNS]]


def header_signature(header: list[str]) -> str:
    """Same columns in the same order → same layout, so the mapping chosen last time is offered again."""
    normalised = "\x1f".join(h.strip().lower() for h in header)
    return hashlib.sha256(normalised.encode()).hexdigest()[:32]


def read_header(path: Path, kind: str) -> tuple[list[str], list[list[str]]]:
    """The header row and up to 20 sample rows for the preview."""
    rows = iter_rows(path, kind)
    try:
        header = [title.replace("\x00", "") for title in next(rows)]  # stored as JSON: PostgreSQL's holds no NUL
    except StopIteration:
        raise ValidationError({"file": [_("The file is empty.")]}) from None
    if not any(header):
        raise ValidationError({"file": [_("The first row must name the columns.")]})
    sample = []
    for row in rows:
        if any(row):
            sample.append([cell.replace("\x00", "") for cell in row])
        if len(sample) >= 20:
            break
    return header, sample


def count_rows(path: Path, kind: str) -> int:
    if kind == "csv":
        with open(path, "rb") as f:
            return max(sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) - 1, 0)
    return max(sum(1 for _ in iter_rows(path, kind)) - 1, 0)


def rows_to_csv(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
