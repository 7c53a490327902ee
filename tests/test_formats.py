"""Every input format and encoding an analyst may hand us, read cell for cell."""

import codecs
import json

import pandas as pd
import pytest

from clustering.errors import InputError, ParameterError
from clustering.io import read_table
from clustering.prepare import prepare_texts

TEXTS = ["Late delivery, again", 'She said "fine"', "naïve café €5", "multi\nline"]


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": ["1", "2", "3", "4"], "text": TEXTS})


@pytest.mark.parametrize(
    ("suffix", "delimiter"), [(".tsv", "\t"), (".csv", ";"), (".csv", "|")]
)
def test_delimited_variants_are_detected(tmp_path, suffix, delimiter):
    path = tmp_path / f"in{suffix}"
    _frame().to_csv(path, sep=delimiter, index=False)
    table = read_table(path)
    assert table.delimiter == delimiter and table.format == suffix[1:]
    assert table.frame["text"].tolist() == TEXTS


def test_delimiter_option_overrides_detection(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a;b,c\n1;2,3\n", encoding="utf-8")
    assert read_table(path).frame.columns.tolist() == ["a;b", "c"]
    assert read_table(path, delimiter=";").frame.columns.tolist() == ["a", "b,c"]
    assert read_table(path, delimiter="tab").frame.columns.tolist() == ["a;b,c"]


def test_xlsx_sheets_by_name_and_position(tmp_path):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["x"]}).to_excel(writer, sheet_name="Info", index=False)
        pd.DataFrame({"id": [1, 2, 3], "text": ["ok", None, 404]}).to_excel(
            writer, sheet_name="Answers", index=False
        )
    first = read_table(path)
    assert first.sheet == "Info" and first.format == "xlsx"
    assert "the first of 2 ('Info', 'Answers')" in first.notes[0]
    by_name = read_table(path, sheet="Answers")
    assert by_name.frame["text"].tolist() == ["ok", "", 404]
    assert read_table(path, sheet=2).frame.equals(by_name.frame)
    assert read_table(path, sheet="2").sheet == "Answers"
    reasons = prepare_texts(by_name.frame["text"].tolist()).skip_reason.tolist()
    assert reasons == ["", "empty", "not_text"]
    with pytest.raises(
        ParameterError,
        match=r"sheet must be one of the sheets 'Info', 'Answers', or a position "
        r"from 1 to 2; got 'Missing'",
    ):
        read_table(path, sheet="Missing")


def test_parquet_keeps_types_and_missing_values(tmp_path):
    path = tmp_path / "in.parquet"
    pd.DataFrame({"text": ["alpha", None, "gamma"], "n": [1, 2, 3]}).to_parquet(path)
    table = read_table(path)
    assert table.format == "parquet" and table.encoding is None
    reasons = prepare_texts(table.frame["text"].tolist()).skip_reason.tolist()
    assert reasons == ["", "missing_value", ""]
    assert table.frame["n"].tolist() == [1, 2, 3]


def test_json_lines_objects_strings_and_types(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        {"id": 1, "text": "multi\nline answer"},
        {"id": 2, "text": None},
        {"id": 3, "text": 17},
        "a bare string line",
    ]
    path.write_text(
        "\n".join(json.dumps(x) for x in lines[:2])
        + "\n\n"
        + "\n".join(json.dumps(x) for x in lines[2:])
        + "\n",
        encoding="utf-8",
    )
    table = read_table(path)
    assert table.frame.columns.tolist() == ["id", "text"]
    assert table.frame["text"].tolist()[0] == "multi\nline answer"
    reasons = prepare_texts(table.frame["text"].tolist()).skip_reason.tolist()
    assert reasons == ["", "missing_value", "not_text", ""]
    assert table.frame["id"].tolist()[3] is None


def test_json_lines_bad_line_stops_or_is_skipped(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken\n[1, 2]\n{"text": "fine"}\n')
    with pytest.raises(InputError, match=r"line 2: not valid JSON"):
        read_table(path)
    table = read_table(path, on_bad_lines="skip")
    assert table.frame["text"].tolist() == ["ok", "fine"]
    assert [(b.line, b.reason) for b in table.bad_lines] == [
        (2, "not valid JSON (Invalid control character at)"),
        (3, "expected a JSON object or string"),
    ]


def test_json_array(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"text": "one"}, {"text": "two", "x": 1}]))
    table = read_table(path)
    assert table.frame["text"].tolist() == ["one", "two"]
    assert table.frame["x"].tolist() == [None, 1]


def test_plain_text_is_one_item_per_line_blank_lines_kept(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"first, with comma\r\n\r\nthird; semicolon\n")
    table = read_table(path)
    assert table.format == "txt" and table.delimiter is None
    assert table.frame["text"].tolist() == ["first, with comma", "", "third; semicolon"]
    assert prepare_texts(table.frame["text"]).skipped_counts() == {"empty": 1}


def test_tab_delimited_txt_export_is_read_as_a_table(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(
        codecs.BOM_UTF16_LE + "id\ttext\n1\tgood\n2\tbad\n".encode("utf-16-le")
    )
    table = read_table(path)
    assert table.format == "tsv" and table.encoding == "utf-16-le"
    assert table.frame["text"].tolist() == ["good", "bad"]
    assert "--format txt" in table.notes[0]
    assert read_table(path, format="txt").frame["text"].tolist()[0] == "id\ttext"


def test_format_option_overrides_the_extension(tmp_path):
    path = tmp_path / "export.dat"
    path.write_text('{"text": "from jsonl"}\n')
    assert read_table(path).format == "csv"
    assert read_table(path, format="jsonl").frame["text"].tolist() == ["from jsonl"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "xls"}, "format must be one of csv, tsv, xlsx, parquet, jsonl"),
        ({"encoding": "klingon"}, "encoding must be a text encoding"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"on_bad_lines": "warn"}, "on_bad_lines must be one of error, skip"),
        ({"sheet": 0}, "sheet must be a sheet name, or a sheet's position"),
        ({"sheet": "A"}, "sheet must be given only for xlsx input, not csv"),
        ({"delimiter": ";", "format": "jsonl"}, "delimiter must be given only for"),
    ],
)
def test_bad_read_options_are_named(tmp_path, kwargs, message):
    path = tmp_path / "in.csv"
    path.write_text("text\nok\n")
    with pytest.raises(ParameterError, match=message):
        read_table(path, **kwargs)


def test_encoding_is_refused_for_binary_formats(tmp_path):
    path = tmp_path / "in.parquet"
    pd.DataFrame({"text": ["a"]}).to_parquet(path)
    with pytest.raises(ParameterError, match="encoding must be left out"):
        read_table(path, encoding="utf-8")


def test_misnamed_binary_and_old_excel_are_explained(tmp_path):
    workbook = tmp_path / "book.csv"
    _frame().to_excel(workbook, index=False, engine="openpyxl")
    with pytest.raises(InputError, match=r"looks like a xlsx file.*--format xlsx"):
        read_table(workbook)
    assert read_table(workbook, format="xlsx").frame["text"].tolist() == TEXTS
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match=r"\.xls\) files are not supported"):
        read_table(tmp_path / "old.xls")


def test_ragged_row_stops_with_its_line_or_is_skipped_and_listed(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text(
        'id,text\n1,"spans\ntwo lines"\n2,too,many\n3,"bad"quote\n4,fine\n5,\n'
        '6,"never closed\n'
    )
    with pytest.raises(InputError, match=r"line 4: expected 2 fields, saw 3"):
        read_table(path)
    table = read_table(path, on_bad_lines="skip")
    assert table.frame["id"].tolist() == ["1", "4", "5"]
    assert [b.line for b in table.bad_lines] == [4, 5, 8]
    assert table.bad_lines[2].reason == "a quoted cell is never closed"
    assert table.bad_lines[0].text == "2,too,many\n"
    assert "3 malformed line(s) were skipped (line 4, 5, 8)" in table.notes[-1]


def test_short_rows_and_trailing_empty_fields_are_kept_and_noted(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("id,text\n1\n2,two,\n3,three\n")
    table = read_table(path)
    assert table.frame.values.tolist() == [["1", ""], ["2", "two"], ["3", "three"]]
    assert any("fewer fields than the header (2)" in n for n in table.notes)
    assert any("extra empty fields" in n and "line 3" in n for n in table.notes)


def test_empty_and_repeated_header_names_get_unique_names(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("text,,text\na,b,c\n")
    table = read_table(path)
    assert table.frame.columns.tolist() == ["text", "column_2", "text_2"]
    assert "column 3 ('text') was renamed 'text_2'" in table.notes


@pytest.mark.parametrize(
    ("encoding", "bom", "reported"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16-le"),
        ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16-be"),
        ("utf-32-le", codecs.BOM_UTF32_LE, "utf-32-le"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16-le", b"", "utf-16-le"),
    ],
)
def test_unicode_encodings_with_and_without_bom(tmp_path, encoding, bom, reported):
    path = tmp_path / "u.csv"
    body = pd.DataFrame({"text": TEXTS, "n": range(4)}).to_csv(index=False)
    path.write_bytes(bom + body.encode(encoding))
    table = read_table(path)
    assert table.encoding == reported
    assert table.frame.columns.tolist() == ["text", "n"]
    assert table.frame["text"].tolist() == TEXTS


def test_latin1_given_and_nul_bytes_refused(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes("text\nçà et là\n".encode("latin-1"))
    table = read_table(path, encoding="latin-1")
    assert table.encoding == "iso8859-1" and table.frame["text"][0] == "çà et là"
    (tmp_path / "nul.csv").write_bytes(b"text\nab\x00\xff\x00cd\n")
    with pytest.raises(InputError, match="NUL bytes"):
        read_table(tmp_path / "nul.csv")


def test_fortunes_every_row_accounted_for(shared_data):
    """Multi-line cells and tabs: the file's 2,000 records, cell for cell."""
    path = shared_data / "fortunes_small.csv"
    table = read_table(path)
    expected = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert table.delimiter == "," and table.encoding == "utf-8"
    assert table.frame.shape == (2000, 3) and not table.bad_lines and not table.notes
    assert table.frame.values.tolist() == expected.values.tolist()
    assert table.frame["text"].str.contains("\t").sum() > 0
    assert table.frame["text"].str.contains("\n").sum() > 100
    prepared = prepare_texts(table.frame["text"].tolist())
    assert prepared.n_rows == 2000
    assert prepared.n_kept + sum(prepared.skipped_counts().values()) == 2000
