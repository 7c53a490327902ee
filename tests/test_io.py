import codecs
from pathlib import Path

import pytest

from clustering.errors import InputError
from clustering.io import detect_delimiter, detect_encoding, read_table


def test_bundled_sample_reads_every_row_as_strings(shared_data):
    table = read_table(shared_data / "wordnet_core_small.csv")
    assert table.frame.shape == (2000, 3)
    assert list(table.frame.columns) == ["id", "text", "label"]
    assert table.encoding == "utf-8" and table.delimiter == ","
    assert all(isinstance(v, str) for v in table.frame["id"].head())
    assert len(table.sha256) == 64


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_detected(tmp_path, delimiter):
    rows = [["id", "text"], ["1", "first, with a comma; and more"], ["2", "second"]]
    body = "\n".join(
        delimiter.join(
            f'"{c}"' if delimiter in c or "," in c or ";" in c else c for c in row
        )
        for row in rows
    )
    path = tmp_path / "t.csv"
    path.write_text(body + "\n", encoding="utf-8")
    assert detect_delimiter(body) == delimiter
    table = read_table(path)
    assert table.frame["text"].tolist() == ["first, with a comma; and more", "second"]


def test_utf8_bom_header_has_no_invisible_prefix(cases):
    table = read_table(cases / "utf8_bom_header.csv")
    assert table.frame.columns[0] == "text"
    assert table.encoding == "utf-8-sig"


def test_cp1252_export_keeps_characters(cases):
    table = read_table(cases / "cp1252_export.csv")
    texts = table.frame["text"].tolist()
    assert table.encoding.replace("_", "").lower() in {"cp1252", "windows1252"}
    assert texts[0] == "The café’s new menu is too expensive."
    assert "€20" in texts[2]
    assert "5–7 days" in texts[1] and "“two days”" in texts[1]
    assert texts[5] == "The naïve assumption was that the refund is automatic."


def test_quoted_newlines_are_one_record(cases):
    table = read_table(cases / "multiline_quoted_cells.csv")
    assert len(table.frame) == 12
    texts = table.frame["text"].tolist()
    assert (
        texts[0] == "First line of the complaint.\nSecond line: the refund never came."
    )
    assert texts[1] == 'She said "call back tomorrow", so I did, twice.'


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "text\nnaïve\n".encode("utf-16-le"))
    assert detect_encoding(path.read_bytes()) == "utf-16-le"
    assert read_table(path).frame["text"].tolist() == ["naïve"]


def test_missing_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="input file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="input file is empty"):
        read_table(tmp_path / "empty.csv")


def test_ragged_row_names_the_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("id,text\n1,ok\n2,too,many,fields\n")
    with pytest.raises(InputError, match="line 3"):
        read_table(path)


def test_wrong_encoding_given_is_an_error_not_mojibake(cases):
    with pytest.raises(InputError, match="cannot decode .* as utf-8"):
        read_table(cases / "cp1252_export.csv", encoding="utf-8")


def test_windows_1252_is_preferred_to_rarer_code_pages_that_read_as_cleanly():
    # charset-normalizer ranks cp775 first on this file (a higher language score
    # with a little more "chaos"); cp1252 reads it without any.
    path = Path(__file__).parent / "data" / "tickets_cp1252.csv"
    assert detect_encoding(path.read_bytes()) == "cp1252"
    table = read_table(path)
    assert table.encoding == "cp1252" and table.delimiter == ";"
    texts = " ".join(table.frame["comment"].dropna())
    assert "Renée" in texts and "€" in texts and "–" in texts
    assert "ķ" not in texts and "Ć" not in texts  # cp775's readings of é and €
