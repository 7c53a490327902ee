"""Parsers for each input format, used by :func:`clustering.io.read_table`.

Text formats (delimited, JSON Lines, JSON, plain lines) receive the decoded text;
binary formats (Excel ``.xlsx``, Parquet) receive the file path. Every parser returns
a :class:`Parsed`: the table, the lines it could not read, and notes on anything it
had to adjust (padded short rows, renamed columns), so nothing is changed silently.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clustering.errors import InputError, ParameterError

logger = logging.getLogger(__name__)

#: Format chosen for each file extension; any other extension is read as ``csv``.
EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".txt": "txt",
}
#: Formats read from decoded text (the others are binary and read from the path).
TEXT_FORMATS = ("csv", "tsv", "jsonl", "json", "txt")
#: Extensions we recognise but cannot read, with what to do instead.
UNSUPPORTED = {
    ".xls": "Excel 97-2003 (.xls) files are not supported; save the sheet as .xlsx "
    "or CSV",
    ".ods": "OpenDocument spreadsheets are not supported; save the sheet as .xlsx "
    "or CSV",
}
#: Longest piece of a bad line kept in messages and in run.json.
_SHOWN_CHARS = 200
#: Line numbers listed in a note before it says "and N more".
_LISTED_LINES = 10


@dataclass
class BadLine:
    """A record that could not be read as a row of the table.

    Attributes
    ----------
    line : int
        Physical line (1-based, the header is line 1) where the record starts.
    reason : str
        What is wrong, such as ``"expected 2 fields, saw 4"``.
    text : str
        The record as written, cut to 200 characters.
    """

    line: int
    reason: str
    text: str

    def to_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason, "text": self.text}


@dataclass
class Parsed:
    """What a parser read: the table, the skipped bad lines, notes."""

    frame: pd.DataFrame
    bad_lines: list[BadLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sheet: str | None = None


def format_for(path: Path, given: str | None = None) -> str:
    """The format to read ``path`` as: ``given``, else by its extension.

    Examples
    --------
    >>> format_for(Path("answers.TSV"))
    'tsv'
    >>> format_for(Path("export.dat"))
    'csv'
    """
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED:
        raise InputError(f"{path}: {UNSUPPORTED[suffix]}")
    return EXTENSIONS.get(suffix, "csv")


def _listing(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_LISTED_LINES])
    more = len(lines) - _LISTED_LINES
    return shown + (f" and {more} more" if more > 0 else "")


def _bad_line(
    bad: BadLine, on_bad_lines: str, bad_lines: list[BadLine], source: str
) -> None:
    """Raise for a bad line, or keep it in ``bad_lines`` when skipping."""
    if on_bad_lines == "error":
        raise InputError(
            f"{source}, line {bad.line}: {bad.reason}: {bad.text!r}; fix the file, or "
            "pass --on-bad-lines skip to skip such lines and list them in run.json"
        )
    bad_lines.append(bad)


def unique_column_names(names: list[str]) -> tuple[list[str], list[str]]:
    """Give empty and repeated header names a unique name; return names and notes.

    Examples
    --------
    >>> unique_column_names(["id", "", "id"])[0]
    ['id', 'column_2', 'id_2']
    """
    result: list[str] = []
    notes: list[str] = []
    taken = set(names)
    for position, name in enumerate(names, start=1):
        chosen = name if name.strip() else f"column_{position}"
        if chosen in result or (chosen != name and chosen in taken):
            suffix = 2
            while f"{chosen}_{suffix}" in taken or f"{chosen}_{suffix}" in result:
                suffix += 1
            chosen = f"{chosen}_{suffix}"
        if chosen != name:
            notes.append(f"column {position} ({name!r}) was renamed {chosen!r}")
        result.append(chosen)
    return result, notes


def parse_delimited(
    text: str,
    delimiter: str,
    *,
    on_bad_lines: str = "error",
    source: str = "input",
) -> Parsed:
    """Split delimited text (RFC 4180 quoting) into a table of strings.

    The first non-blank record is the header. Quoted cells may hold delimiters,
    doubled quotes and line breaks. Blank lines are not records. A record with fewer
    fields than the header has its missing cells read as empty (and is noted); one
    with more non-empty fields than the header, or with broken quoting, is a bad
    line: an error, or skipped and listed when ``on_bad_lines="skip"``.

    Examples
    --------
    >>> parse_delimited('id;text\\n1;"a ""b"";\\nc"\\n', ";").frame["text"].tolist()
    ['a "b";\\nc']
    """
    lines = list(io.StringIO(text, newline=""))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    bad_lines: list[BadLine] = []
    short: list[int] = []
    padded_extra: list[int] = []
    n_blank = 0
    start = 1

    # Read record by record, remembering where each one starts.
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            reason = str(error)
            if reason == "unexpected end of data":
                reason = "a quoted cell is never closed"
            raw = "".join(lines[start - 1 : reader.line_num])[:_SHOWN_CHARS]
            bad = BadLine(start, reason, raw)
            if header is None:
                raise InputError(
                    f"{source}: cannot read the header row: {reason}"
                ) from None
            _bad_line(bad, on_bad_lines, bad_lines, source)
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not record:
            n_blank += 1
            continue
        if header is None:
            header = record
            continue

        # Fit the record to the header's width.
        width = len(header)
        if len(record) < width:
            short.append(line)
            record = record + [""] * (width - len(record))
        elif len(record) > width:
            if any(cell.strip() for cell in record[width:]):
                raw = "".join(lines[line - 1 : reader.line_num])[:_SHOWN_CHARS]
                reason = f"expected {width} fields, saw {len(record)}"
                _bad_line(BadLine(line, reason, raw), on_bad_lines, bad_lines, source)
                continue
            padded_extra.append(line)
            record = record[:width]
        rows.append(record)

    if header is None:
        raise InputError(f"{source}: no header row (the file holds only blank lines)")
    columns, notes = unique_column_names(header)
    if short:
        notes.append(
            f"{len(short)} row(s) had fewer fields than the header ({len(header)}); "
            f"their missing cells were read as empty (line {_listing(short)})"
        )
    if padded_extra:
        notes.append(
            f"{len(padded_extra)} row(s) ended with extra empty fields, which were "
            f"dropped (line {_listing(padded_extra)})"
        )
    if bad_lines:
        notes.append(
            f"{len(bad_lines)} malformed line(s) were skipped (line "
            f"{_listing([b.line for b in bad_lines])}); see input.bad_lines in run.json"
        )
    if n_blank:
        logger.info("%s: %d blank line(s) ignored", source, n_blank)
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return Parsed(frame, bad_lines, notes)


def looks_tab_delimited(text: str) -> bool:
    """Whether the first lines all split on tabs into the same number (>= 2) of
    fields, as in a spreadsheet's "Text (Tab delimited)" export."""
    sample = [line for line in text.splitlines()[:50] if line.strip()]
    widths = {line.count("\t") for line in sample}
    return len(sample) >= 2 and len(widths) == 1 and widths.pop() >= 1


def parse_lines(text: str) -> Parsed:
    """One item per line, in a column named ``text``.

    Every line is a row, blank ones included (they are skipped later as
    ``empty``), so row *i* of the output is line *i* of the file.

    Examples
    --------
    >>> parse_lines("first\\r\\n\\nthird\\n").frame["text"].tolist()
    ['first', '', 'third']
    """
    items = [line.rstrip("\r\n") for line in io.StringIO(text, newline="")]
    return Parsed(pd.DataFrame({"text": items}, dtype=object))


def _records_frame(records: list[dict]) -> pd.DataFrame:
    """Rows from JSON objects: columns in first-seen key order, absent keys None."""
    columns: dict[str, None] = {}
    for record in records:
        columns.update(dict.fromkeys(record))
    return pd.DataFrame(
        [[record.get(c) for c in columns] for record in records],
        columns=[str(c) for c in columns],
        dtype=object,
    )


def _as_record(value: object) -> dict | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"text": value}
    return None


def parse_json_lines(
    text: str, *, on_bad_lines: str = "error", source: str = "input"
) -> Parsed:
    """JSON Lines: one JSON object (or one JSON string) per line.

    Values keep their JSON type: ``null`` is a missing value and numbers are not
    text, so such cells are skipped with that reason. Blank lines are not records.
    """
    records: list[dict] = []
    bad_lines: list[BadLine] = []
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if not line.strip():
            continue
        try:
            record = _as_record(json.loads(line))
            reason = "expected a JSON object or string"
        except json.JSONDecodeError as error:
            record, reason = None, f"not valid JSON ({error.msg})"
        if record is None:
            raw = line.rstrip("\r\n")[:_SHOWN_CHARS]
            _bad_line(BadLine(number, reason, raw), on_bad_lines, bad_lines, source)
            continue
        records.append(record)
    notes = []
    if bad_lines:
        notes.append(
            f"{len(bad_lines)} malformed line(s) were skipped (line "
            f"{_listing([b.line for b in bad_lines])}); see input.bad_lines in run.json"
        )
    return Parsed(_records_frame(records), bad_lines, notes)


def parse_json(text: str, *, source: str = "input") -> Parsed:
    """A JSON array of objects (or of strings), one row per item."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{source} is not valid JSON: {error}; for one object per line use "
            "--format jsonl"
        ) from None
    if not isinstance(data, list):
        raise InputError(
            f"{source}: expected a JSON array of records, found a {type(data).__name__}"
        )
    records = [_as_record(item) for item in data]
    bad = [i for i, r in enumerate(records, start=1) if r is None]
    if bad:
        raise InputError(
            f"{source}: item {bad[0]} of the array is not an object or a string"
        )
    return Parsed(_records_frame(records))


def _choose_sheet(names: list[str], sheet: str | int | None) -> tuple[str, list[str]]:
    """The sheet to read: by name, else by 1-based position; default the first."""
    listing = ", ".join(repr(n) for n in names)
    if sheet is None:
        notes = []
        if len(names) > 1:
            notes.append(
                f"read sheet {names[0]!r}, the first of {len(names)} ({listing}); "
                "choose another with --sheet"
            )
        return names[0], notes
    if str(sheet) in names:
        return str(sheet), []
    if isinstance(sheet, int) or str(sheet).strip().isdigit():
        position = int(sheet)
        if 1 <= position <= len(names):
            return names[position - 1], []
    raise ParameterError(
        "sheet",
        f"one of the sheets {listing}, or a position from 1 to {len(names)}",
        sheet,
    )


def read_xlsx(path: Path, sheet: str | int | None = None) -> Parsed:
    """One sheet of an Excel workbook; the first row is the header.

    Cells keep their type: empty cells are ``""``, numbers and dates are not text.
    Formulas are not evaluated; the value Excel saved with the file is read.
    """
    import openpyxl

    # Read from bytes, so a workbook with another extension reads too.
    data = path.read_bytes()
    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True
        )
        names = list(workbook.sheetnames)
        workbook.close()
    except Exception as error:  # openpyxl raises many types for a broken file
        raise InputError(
            f"cannot read {path} as an Excel .xlsx workbook: {error}"
        ) from None
    chosen, notes = _choose_sheet(names, sheet)
    frame = pd.read_excel(
        io.BytesIO(data),
        sheet_name=chosen,
        engine="openpyxl",
        dtype=object,
        na_filter=False,
    )
    columns, renamed = unique_column_names([str(c) for c in frame.columns])
    frame.columns = columns
    return Parsed(frame, notes=notes + renamed, sheet=chosen)


def read_parquet(path: Path) -> Parsed:
    """A Parquet file; columns keep their types (missing values are ``None``/NaN)."""
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except Exception as error:  # pyarrow raises its own types for a broken file
        raise InputError(f"cannot read {path} as Parquet: {error}") from None
    frame = frame.reset_index(drop=True)
    columns, renamed = unique_column_names([str(c) for c in frame.columns])
    frame.columns = columns
    return Parsed(frame, notes=renamed)
