"""Property tests: random tables written as files are read back cell for cell.

Tables hold quotes, delimiters, line breaks, tabs, unicode and empty cells; they are
written with Python's csv writer in several delimiters, line ends and encodings.
No model is involved, so these run in seconds.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustering.io import read_table

DELIMITERS = [",", ";", "\t", "|"]
TRICKY = list(",;\t|\"\n\r '") + ["\r\n", '""', "NA", "1,5", "=1+1"]

pytestmark = pytest.mark.filterwarnings("ignore")
SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def cells(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Cell text: any characters of ``alphabet`` mixed with CSV's tricky ones."""
    return st.lists(st.one_of(alphabet, st.sampled_from(TRICKY)), max_size=8).map(
        "".join
    )


ANY_CHAR = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"
)


@st.composite
def tables(draw, alphabet=ANY_CHAR, min_columns=1):
    """A header of unique non-blank names and up to 8 rows of the same width."""
    n_columns = draw(st.integers(min_columns, 4))
    header = draw(
        st.lists(
            cells(alphabet).filter(lambda name: name.strip() != ""),
            min_size=n_columns,
            max_size=n_columns,
            unique=True,
        )
    )
    rows = draw(
        st.lists(
            st.lists(cells(alphabet), min_size=n_columns, max_size=n_columns),
            max_size=8,
        )
    )
    return header, rows


def write(table, delimiter: str, line_end: str, quoting: int) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, delimiter=delimiter, lineterminator=line_end, quoting=quoting
    )
    header, rows = table
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def read_back(raw: bytes, suffix: str = ".csv", **options):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"table{suffix}"
        path.write_bytes(raw)
        before = path.read_bytes()
        table = read_table(path, **options)
        assert path.read_bytes() == before, "the input file must not change"
    return table


def assert_same_cells(table, written) -> None:
    header, rows = written
    assert table.frame.columns.tolist() == header
    assert table.frame.values.tolist() == [list(row) for row in rows]
    assert not table.bad_lines and not table.notes


@SETTINGS
@given(
    written=tables(),
    delimiter=st.sampled_from(DELIMITERS),
    style=st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be-bom"]),
)
def test_any_unicode_table_round_trips_with_detected_encoding(
    written, delimiter, style, encoding
):
    # Python's writer leaves a lone CR unquoted when lines end in LF, which no
    # reader can tell from a line end; so LF files are written fully quoted.
    text = write(written, delimiter, *style)
    if encoding == "utf-16-be-bom":
        raw = "\ufeff".encode("utf-16-be") + text.encode("utf-16-be")
    else:
        raw = text.encode(encoding)
    table = read_back(raw, delimiter=delimiter)
    assert_same_cells(table, written)
    expected = {"utf-16": "utf-16-le", "utf-16-be-bom": "utf-16-be"}
    assert table.encoding == expected.get(encoding, encoding)


@SETTINGS
@given(
    written=tables(alphabet=st.characters(codec="cp1252", blacklist_characters="\0")),
    delimiter=st.sampled_from(DELIMITERS),
    encoding=st.sampled_from(["cp1252", "latin-1"]),
)
def test_legacy_code_page_tables_round_trip_with_given_encoding(
    written, delimiter, encoding
):
    text = write(written, delimiter, "\r\n", csv.QUOTE_MINIMAL)
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        return  # cp1252 characters that latin-1 lacks (such as the euro sign)
    table = read_back(raw, delimiter=delimiter, encoding=encoding)
    assert_same_cells(table, written)


@SETTINGS
@given(data=st.data(), delimiter=st.sampled_from(DELIMITERS))
def test_delimiter_is_detected_when_cells_are_quoted(data, delimiter):
    others = "".join(d for d in DELIMITERS if d != delimiter)
    alphabet = st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff" + others
    )
    written = data.draw(tables(alphabet=alphabet, min_columns=2))
    header, rows = written
    clean = (
        header,
        [[c.translate({ord(o): None for o in others}) for c in row] for row in rows],
    )
    clean_header = [h.translate({ord(o): None for o in others}) for h in header]
    if len(set(clean_header)) < len(clean_header) or not all(
        h.strip() for h in clean_header
    ):
        return
    clean = (clean_header, clean[1])
    text = write(clean, delimiter, "\r\n", csv.QUOTE_ALL)
    table = read_back(text.encode("utf-8"))
    assert table.delimiter == delimiter
    assert_same_cells(table, clean)


@SETTINGS
@given(
    lines=st.lists(
        st.text(
            st.characters(
                blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff\r\n\t"
            ),
            max_size=30,
        ),
        min_size=1,
        max_size=10,
    ),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_plain_text_lines_round_trip(lines, line_end):
    raw = line_end.join(lines) + line_end
    if not raw.strip(" \t\r\n\x00"):
        return  # an empty file is refused, as tested elsewhere
    table = read_back(raw.encode("utf-8"), suffix=".txt")
    assert table.frame["text"].tolist() == lines
