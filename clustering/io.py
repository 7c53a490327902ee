"""Read stage: load a table of texts from a file, detecting encoding and delimiter.

Every cell is read as the exact string written in the file (no NA conversion, no
number parsing), so the output can carry the input's columns untouched.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clustering import formats
from clustering.errors import InputError, ParameterError
from clustering.formats import BadLine
from clustering.options import ReadOptions, make_read_options

logger = logging.getLogger(__name__)

CANDIDATE_DELIMITERS = (",", "\t", ";", "|")
_SNIFF_LINES = 200
#: Tie-break among equally likely legacy encodings: Windows-1252 exports are the
#: most common, then ISO-8859-1.
_PREFERRED_LEGACY = ("cp1252", "latin_1")
#: How much messier than the cleanest reading a preferred encoding may be.
_CHAOS_MARGIN = 0.005
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: First bytes of binary formats, to say what a misnamed file really is.
_MAGIC = {b"PK\x03\x04": "xlsx", b"PAR1": "parquet"}


@dataclass
class InputTable:
    """A table read from a file or built from in-memory data.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per input record, in input order, columns as in the file. Cells of
        text formats are ``str``; Excel, Parquet and JSON cells keep their type.
    source : str
        File path, or a short description such as ``"<list of 12 texts>"``.
    encoding : str or None
        Encoding used to decode the file; ``None`` for binary formats and
        in-memory data.
    delimiter : str or None
        Field delimiter of a delimited file; ``None`` otherwise.
    sha256 : str or None
        Hash of the file's bytes; ``None`` for in-memory data.
    format : str or None
        Format the file was read as (``csv``, ``tsv``, ``xlsx``, ...).
    sheet : str or None
        Excel sheet that was read.
    bad_lines : list of BadLine
        Malformed lines skipped with ``on_bad_lines="skip"``, with line numbers.
    notes : list of str
        What reading had to adjust (short rows padded, columns renamed, ...).
    on_bad_lines : str or None
        How malformed lines were handled (``"error"`` or ``"skip"``).
    """

    frame: pd.DataFrame
    source: str
    encoding: str | None = None
    delimiter: str | None = None
    sha256: str | None = None
    format: str | None = None
    sheet: str | None = None
    bad_lines: list[BadLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    on_bad_lines: str | None = None


def _utf16_without_bom(raw: bytes) -> str | None:
    """``utf-16-le``/``-be`` when every other byte is zero, as in mostly-ASCII
    UTF-16 text written without a byte-order mark; else ``None``."""
    sample = raw[:4000]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_zero = even.count(0) / len(even)
    odd_zero = odd.count(0) / len(odd)
    if odd_zero > 0.4 and even_zero < 0.05:
        return "utf-16-le"
    if even_zero > 0.4 and odd_zero < 0.05:
        return "utf-16-be"
    return None


def detect_encoding(raw: bytes) -> str:
    """Name the encoding of ``raw``: a byte-order mark, strict UTF-8, else a detector.

    Examples
    --------
    >>> detect_encoding("café".encode("utf-8"))
    'utf-8'
    >>> detect_encoding(codecs.BOM_UTF8 + b"text")
    'utf-8-sig'
    >>> detect_encoding(codecs.BOM_UTF16_BE + "text".encode("utf-16-be"))
    'utf-16-be'
    """
    # A byte-order mark names the encoding (UTF-32's marks begin with UTF-16's).
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name
    if b"\x00" in raw[:4000]:
        guess = _utf16_without_bom(raw)
        if guess is not None:
            return guess
        raise InputError(
            "the file holds NUL bytes: it is binary, or text in UTF-16/UTF-32 "
            "without a byte-order mark; pass its encoding with --encoding, or its "
            "format with --format"
        )
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass

    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise InputError(
            "could not detect the file's text encoding; pass it with --encoding "
            "(for example --encoding cp1252)"
        )
    # Single-byte code pages often read a file almost equally well, and the
    # detector may rank a rare one first (cp775 over cp1252 for French text, on
    # its language-coherence score). Among those whose decoding is as clean as the
    # cleanest, take the most common export encoding.
    lowest = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= lowest + _CHAOS_MARGIN]
    for preferred in _PREFERRED_LEGACY:
        for match in clean:
            if preferred in match.could_be_from_charset:
                return preferred
    return matches[0].encoding


def detect_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines into a steady number of fields.

    A file whose lines split on none of ``, TAB ; |`` is a one-column file and gets
    ``","``.

    Examples
    --------
    >>> detect_delimiter("a;b\\n1;2\\n3;4\\n")
    ';'
    """
    sample_lines = text.splitlines(keepends=True)[:_SNIFF_LINES]
    # Drop a last line that may have been cut inside a quoted cell.
    if len(sample_lines) == _SNIFF_LINES:
        sample_lines = sample_lines[:-1]
    sample = "".join(sample_lines)
    best, best_score = ",", 0.0
    for delimiter in CANDIDATE_DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
        except csv.Error:
            continue
        widths = [len(row) for row in rows if row]
        if not widths or widths[0] < 2:
            continue
        steady = sum(width == widths[0] for width in widths) / len(widths)
        score = steady * min(widths[0], 50)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _decode(raw: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    """Decode strictly with the given or detected encoding; drop a leading BOM."""
    for magic, kind in _MAGIC.items():
        if raw.startswith(magic):
            raise InputError(
                f"{path} looks like a {kind} file, not text; give it the "
                f".{kind} extension or pass --format {kind}"
            )
    used = encoding or detect_encoding(raw)
    try:
        text = raw.decode(used)
    except (UnicodeDecodeError, LookupError) as error:
        raise InputError(
            f"cannot decode {path} as {used}: {error}; "
            "pass the right one with --encoding"
        ) from None
    return text.removeprefix("\ufeff"), codecs.lookup(used).name


def _check_applies(checked: ReadOptions, fmt: str) -> None:
    """Refuse reading options that mean nothing for the chosen format."""
    if fmt not in formats.TEXT_FORMATS and checked.encoding is not None:
        raise ParameterError(
            "encoding", "left out for a binary format such as " + fmt, checked.encoding
        )
    if fmt not in ("csv", "tsv") and checked.delimiter is not None:
        raise ParameterError(
            "delimiter",
            "given only for csv or tsv input, not " + fmt,
            checked.delimiter,
        )
    if fmt != "xlsx" and checked.sheet is not None:
        raise ParameterError(
            "sheet", "given only for xlsx input, not " + fmt, checked.sheet
        )


def read_table(
    path: str | Path,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
    on_bad_lines: str = "error",
) -> InputTable:
    """Read a file of texts into an :class:`InputTable`.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV, TSV or other delimited text with a header row; Excel ``.xlsx``;
        Parquet; JSON Lines (``.jsonl``); a JSON array (``.json``); or plain text
        with one item per line (``.txt``).
    format : {"csv", "tsv", "xlsx", "parquet", "jsonl", "json", "txt"} or None
        ``None`` chooses by extension; any unknown extension is read as ``csv``.
    encoding : str or None, default=None
        Text encoding; ``None`` detects it. Decoding is strict: a byte that does not
        fit the encoding is an error, never a silent replacement.
    delimiter : str or None, default=None
        Field delimiter; ``None`` detects it (tab for ``tsv``).
    sheet : str, int or None, default=None
        Excel sheet by name or position counted from 1; ``None`` is the first.
    on_bad_lines : {"error", "skip"}, default="error"
        A malformed line (more fields than the header, broken quoting, invalid
        JSON) stops the read with its line number, or is skipped and listed in
        :attr:`InputTable.bad_lines`.

    Raises
    ------
    InputError
        If the file is missing, empty, not decodable, or has a malformed line.
    ParameterError
        If an option is not allowed, or does not apply to the format.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "answers.csv"
    >>> _ = path.write_text('id;text\\n1;"Slow, then fine"\\n', encoding="utf-8")
    >>> table = read_table(path)
    >>> table.delimiter, table.frame["text"].tolist()
    (';', ['Slow, then fine'])
    """
    checked = make_read_options(
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        on_bad_lines=on_bad_lines,
    )
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    fmt = formats.format_for(path, checked.format)
    _check_applies(checked, fmt)
    raw = path.read_bytes()
    if not raw.strip(b" \t\r\n\x00"):
        raise InputError(f"input file is empty: {path}")

    # Binary formats are read from the file itself.
    used_encoding = used_delimiter = None
    if fmt == "xlsx":
        parsed = formats.read_xlsx(path, checked.sheet)
    elif fmt == "parquet":
        parsed = formats.read_parquet(path)
    else:
        # Text formats: decode strictly, then parse.
        text, used_encoding = _decode(raw, checked.encoding, path)
        source = str(path)
        notes = []
        if (
            fmt == "txt"
            and checked.format is None
            and formats.looks_tab_delimited(text)
        ):
            fmt = "tsv"
            notes.append(
                f"{path.name} looks tab-delimited, so it was read as a table with a "
                "header row; pass --format txt to read one item per line"
            )
        if fmt in ("csv", "tsv"):
            used_delimiter = checked.delimiter or (
                "\t" if fmt == "tsv" else detect_delimiter(text)
            )
            parsed = formats.parse_delimited(
                text, used_delimiter, on_bad_lines=checked.on_bad_lines, source=source
            )
        elif fmt == "jsonl":
            parsed = formats.parse_json_lines(
                text, on_bad_lines=checked.on_bad_lines, source=source
            )
        elif fmt == "json":
            parsed = formats.parse_json(text, source=source)
        else:
            parsed = formats.parse_lines(text)
        parsed.notes[:0] = notes

    logger.info(
        "read %d rows x %d columns from %s (format %s, encoding %s, delimiter %r)",
        len(parsed.frame),
        parsed.frame.shape[1],
        path,
        fmt,
        used_encoding,
        used_delimiter,
    )
    return InputTable(
        frame=parsed.frame,
        source=str(path),
        encoding=used_encoding,
        delimiter=used_delimiter,
        sha256=hashlib.sha256(raw).hexdigest(),
        format=fmt,
        sheet=parsed.sheet,
        bad_lines=parsed.bad_lines,
        notes=parsed.notes,
        on_bad_lines=checked.on_bad_lines,
    )


def table_from_data(data: object, text_column: str | None = None) -> InputTable:
    """Wrap in-memory data (list of str, Series or DataFrame) as an :class:`InputTable`.

    A list or Series becomes a one-column frame named ``text`` (or the Series' name).
    DataFrame cells are kept as they are; the text column is converted to ``str``
    later, when rows are prepared.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)
        source = f"<DataFrame of {len(frame)} rows>"
    elif isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else "text"
        frame = data.reset_index(drop=True).to_frame(name=name)
        source = f"<Series of {len(frame)} texts>"
    elif isinstance(data, (list, tuple)):
        frame = pd.DataFrame({"text": list(data)}, dtype=object)
        source = f"<list of {len(frame)} texts>"
    elif isinstance(data, str):
        raise InputError(
            "data is a single string; pass a list of texts, a pandas Series, a "
            "DataFrame, or use clustering.read_table(path) for a file"
        )
    else:
        raise InputError(
            "data must be a list of strings, a pandas Series or a DataFrame; "
            f"got {type(data).__name__}"
        )
    return InputTable(frame=frame, source=source)
