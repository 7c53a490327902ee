import numpy as np
import pandas as pd
import pytest

from clustering.errors import ParameterError
from clustering.io import read_table
from clustering.prepare import choose_text_column, classify_cell, prepare_texts


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("", "empty"),
        ("   \t", "empty"),
        ("NA", "missing_value"),
        ("n/a", "missing_value"),
        ("null", "missing_value"),
        ("None", "missing_value"),
        (None, "missing_value"),
        (float("nan"), "missing_value"),
        (12, "not_text"),
        ("404", "number_only"),
        ("12.5%", "number_only"),
        ("?!...", "no_letters_or_digits"),
    ],
)
def test_skipped_cells_get_their_reason(cell, reason):
    assert classify_cell(cell) == (None, reason)


@pytest.mark.parametrize("cell", ["ok", "Error 404 on login", "👍", "日本語のテキスト"])
def test_real_text_is_kept_trimmed(cell):
    assert classify_cell(f"  {cell} ") == (cell, "")


def test_blank_and_na_case_accounts_for_every_row(cases):
    frame = read_table(cases / "blank_and_na_cells.csv").frame
    prepared = prepare_texts(frame["text"].tolist())
    assert prepared.n_rows == len(frame)
    kept = [prepared.unique_texts[i] for i in prepared.row_to_unique if i >= 0]
    assert "Support answered within ten minutes." in kept
    skipped = prepared.skipped_counts()
    # NA, None, null, N/A; an empty cell, a quoted empty string, a missing field;
    # 404 and 3.50.
    assert skipped == {"missing_value": 4, "empty": 3, "number_only": 2}
    assert prepared.n_kept == 9


def test_duplicates_share_one_distinct_text_in_sorted_order():
    frame = pd.DataFrame({"text": ["b", "a", " b ", "", "a"]})
    prepared = prepare_texts(frame["text"].tolist())
    assert prepared.unique_texts == ["a", "b"]
    assert prepared.row_to_unique.tolist() == [1, 0, 1, -1, 0]
    assert prepared.counts.tolist() == [2, 2]


def test_text_column_is_chosen_when_clear(shared_data):
    frame = read_table(shared_data / "wordnet_core_small.csv").frame
    assert choose_text_column(frame) == "text"
    renamed = frame.rename(columns={"text": "gloss"})
    assert choose_text_column(renamed) == "gloss"


def test_ambiguous_columns_are_an_error_listing_them():
    frame = pd.DataFrame({"a": ["long text here"] * 3, "b": ["other long text"] * 3})
    with pytest.raises(
        ParameterError, match=r"text_column must be one of the columns 'a', 'b'"
    ):
        choose_text_column(frame)


def test_unknown_column_is_an_error_listing_columns():
    frame = pd.DataFrame({"id": ["1"], "text": ["x"]})
    with pytest.raises(
        ParameterError, match=r"one of the columns 'id', 'text'; got 'body'"
    ):
        choose_text_column(frame, "body")
    assert np.array_equal(prepare_texts(frame["text"].tolist()).row_to_unique, [0])


def test_a_column_name_in_another_case_is_suggested():
    frame = pd.DataFrame({"id": ["1"], "Comment": ["late parcel"]})
    with pytest.raises(ParameterError, match="got 'comment'. Did you mean 'Comment'"):
        choose_text_column(frame, "comment")
