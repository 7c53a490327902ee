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
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clustering.errors import InputError

logger = logging.getLogger(__name__)

CANDIDATE_DELIMITERS = (",", "\t", ";", "|")
_SNIFF_LINES = 200
#: Tie-break among equally likely legacy encodings: Windows-1252 exports are the
#: most common, then ISO-8859-1.
_PREFERRED_LEGACY = ("cp1252", "latin_1")


@dataclass
class InputTable:
    """A table read from a file or built from in-memory data.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per input record, every cell a ``str``, columns as in the file.
    source : str
        File path, or a short description such as ``"<list of 12 texts>"``.
    encoding : str or None
        Encoding used to decode the file; ``None`` for in-memory data.
    delimiter : str or None
        Field delimiter of the file; ``None`` for in-memory data.
    sha256 : str or None
        Hash of the file's bytes; ``None`` for in-memory data.
    """

    frame: pd.DataFrame
    source: str
    encoding: str | None = None
    delimiter: str | None = None
    sha256: str | None = None


def detect_encoding(raw: bytes) -> str:
    """Name the encoding of ``raw``: a byte-order mark, strict UTF-8, else a detector.

    Examples
    --------
    >>> detect_encoding("café".encode("utf-8"))
    'utf-8'
    >>> detect_encoding(codecs.BOM_UTF8 + b"text")
    'utf-8-sig'
    """
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
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
    # The detector often ties several single-byte code pages on short files; among
    # those that fit equally well, take the most common export encoding.
    best = matches[0]
    tied = [
        m
        for m in matches
        if abs(m.chaos - best.chaos) < 1e-6 and abs(m.coherence - best.coherence) < 1e-6
    ]
    for preferred in _PREFERRED_LEGACY:
        for match in tied:
            if preferred in match.could_be_from_charset:
                return preferred
    return best.encoding


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


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> InputTable:
    """Read a delimited text file into an :class:`InputTable`.

    Parameters
    ----------
    path : str or pathlib.Path
        CSV, TSV or other delimited file with a header row.
    encoding : str or None, default=None
        Text encoding; ``None`` detects it. Decoding is strict: a byte that does not
        fit the encoding is an error, never a silent replacement.
    delimiter : str or None, default=None
        Field delimiter; ``None`` detects it (``\\t`` for ``.tsv`` files).

    Raises
    ------
    InputError
        If the file is missing, empty, not decodable, or has malformed rows.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"input file is empty: {path}")

    # Decode strictly with the given or detected encoding.
    used_encoding = encoding or detect_encoding(raw)
    try:
        text = raw.decode(used_encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise InputError(
            f"cannot decode {path} as {used_encoding}: {error}; "
            "pass the right one with --encoding"
        ) from None
    text = text.removeprefix("\ufeff")

    # Split into records and fields.
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else detect_delimiter(text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"input file has no header row: {path}") from None
    except pd.errors.ParserError as error:
        raise InputError(f"malformed row in {path}: {error}") from None
    frame.columns = [str(column) for column in frame.columns]

    logger.info(
        "read %d rows x %d columns from %s (encoding %s, delimiter %r)",
        len(frame),
        frame.shape[1],
        path,
        used_encoding,
        delimiter,
    )
    return InputTable(
        frame=frame,
        source=str(path),
        encoding=used_encoding,
        delimiter=delimiter,
        sha256=hashlib.sha256(raw).hexdigest(),
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
