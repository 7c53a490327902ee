"""Each input in ../shared/cases behaves as its README says, via the CLI and the API.

Every test runs the case both ways: the command line in-process (CliRunner) and
:func:`clustering.cluster_file`, with the real default model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import clustering
from clustering.cli import main
from clustering.errors import ParameterError
from clustering.report import OPTIONAL_FILES, OUTPUT_FILES


def run_both(source: Path, out: Path, *args: str, **options):
    """Run ``source`` through the CLI (into ``out``) and the API.

    Returns the CLI's output, its run.json, its assignments.csv read as strings,
    and the API's result.
    """
    done = CliRunner().invoke(
        main, ["run", str(source), "--out", str(out), *args], catch_exceptions=False
    )
    assert done.exit_code == 0, done.output
    for name in set(OUTPUT_FILES) - set(OPTIONAL_FILES):
        assert (out / name).stat().st_size > 0, name
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    written = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    result = clustering.cluster_file(source, show_progress=False, **options)
    return done.output, info, written, result


def test_tiny_five_rows_and_its_first_one_and_two(cases, tmp_path):
    frame = pd.read_csv(cases / "tiny_five_rows.csv", dtype=str)
    for n_rows in (1, 2, 5):
        source = tmp_path / f"tiny{n_rows}.csv"
        frame.iloc[:n_rows].to_csv(source, index=False)
        output, info, written, result = run_both(source, tmp_path / f"o{n_rows}")
        for assignments in (written, result.assignments):
            assert len(assignments) == n_rows
            assert set(assignments["status"]) <= {"clustered", "unclustered"}
        assert info["notes"] and "Note:" in output
        assert result.run_info["notes"] == info["notes"]
        if n_rows == 5:
            assert "n_neighbors lowered from 15 to 4 for 5 texts" in info["notes"]
            assert info["fitted"]["n_neighbors"] == 4
        else:
            assert f"{n_rows} distinct text(s): too few for UMAP" in info["notes"][0]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("min_cluster_size", "1", "min_cluster_size must be a whole number >= 2"),
        ("min_cluster_size", "0", "min_cluster_size must be a whole number >= 2"),
        ("min_cluster_size", "-3", "min_cluster_size must be a whole number >= 2"),
        ("min_cluster_size", "2.5", "min_cluster_size must be a whole number >= 2"),
        ("n_neighbors", "1", "n_neighbors must be a whole number >= 2; got '1'"),
        ("text_column", "body", "text_column must be one of the columns 'id', 'text'"),
    ],
)
def test_bad_parameters_fail_before_the_model_loads(
    cases, tmp_path, monkeypatch, option, value, message
):
    from clustering.embed import Embedder

    def no_model(self):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(Embedder, "_load", no_model)
    monkeypatch.setattr(Embedder, "_load_tokenizer", no_model)
    source = cases / "bad_parameters.csv"
    flag = "--" + option.replace("_", "-")
    done = CliRunner().invoke(
        main, ["run", str(source), "--out", str(tmp_path), flag, value]
    )
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not any((tmp_path / name).exists() for name in OUTPUT_FILES)
    with pytest.raises(ParameterError, match=message.replace("(", r"\(")):
        clustering.cluster_file(source, **{option: value})


def test_bad_parameters_whole_number_as_float_is_accepted(cases, tmp_path):
    source = cases / "bad_parameters.csv"
    _, info, written, result = run_both(
        source, tmp_path / "o", "--min-cluster-size", "5.0", min_cluster_size=5.0
    )
    assert (
        info["options"]["min_cluster_size"]
        == 5
        == result.run_info["options"]["min_cluster_size"]
    )
    assert len(written) == 24 and len(result.assignments) == 24
    # Two subjects, a hotel and an app login, come out as two groups.
    assert info["counts"]["groups"] == result.n_clusters == 2


def test_all_identical_is_one_group(cases, tmp_path):
    _, info, written, result = run_both(cases / "all_identical.csv", tmp_path / "o")
    assert written["cluster_id"].tolist() == ["0"] * 60
    assert result.assignments["cluster_id"].tolist() == [0] * 60
    assert info["counts"]["groups"] == 1 and info["counts"]["distinct"] == 1
    assert info["counts"]["embedded"] + info["counts"]["embeddings_from_cache"] == 1


def test_blank_and_na_cells_every_row_present_with_its_reason(cases, tmp_path):
    _, info, written, result = run_both(
        cases / "blank_and_na_cells.csv", tmp_path / "o"
    )
    expected_reasons = {
        "2": "empty",
        "4": "missing_value",
        "5": "number_only",
        "6": "missing_value",
        "8": "empty",
        "9": "missing_value",
        "11": "missing_value",
        "14": "empty",
        "16": "number_only",
    }
    for assignments in (written, result.assignments.astype(str)):
        assert assignments["id"].tolist() == [str(i) for i in range(1, 19)]
        reasons = dict(zip(assignments["id"], assignments["skip_reason"], strict=True))
        assert {k: v for k, v in reasons.items() if v} == expected_reasons
        kept = assignments[assignments["skip_reason"] == ""]
        assert set(kept["status"]) <= {"clustered", "unclustered"}
        assert (
            assignments.loc[assignments["skip_reason"] != "", "status"] == "skipped"
        ).all()
    assert info["counts"]["by_status"]["skipped"] == 9
    assert info["counts"]["skipped_by_reason"] == {
        "empty": 3,
        "missing_value": 4,
        "number_only": 2,
    }
    assert any(
        "fewer fields than the header" in n and "line 15" in n for n in info["notes"]
    )


def test_cp1252_export_characters_intact_and_encoding_reported(cases, tmp_path):
    output, info, written, result = run_both(
        cases / "cp1252_export.csv", tmp_path / "o"
    )
    assert info["input"]["encoding"] == "cp1252" == result.run_info["input"]["encoding"]
    assert "encoding cp1252" in output
    for texts in (written["text"].tolist(), result.assignments["text"].tolist()):
        assert texts[0] == "The café’s new menu is too expensive."
        assert "5–7 days" in texts[1] and "€20" in texts[2]
        assert "Müller’s" in texts[3] and "Señora López" in texts[9]
        assert not any("\ufffd" in t or "Ã" in t for t in texts)


def test_utf8_bom_header_first_column_is_text(cases, tmp_path):
    _, info, written, result = run_both(cases / "utf8_bom_header.csv", tmp_path / "o")
    assert info["input"]["columns"][0] == "text" == info["input"]["text_column"]
    assert written.columns[0] == "text" == result.assignments.columns[0]
    assert info["input"]["encoding"] == "utf-8-sig"


def test_multiline_quoted_cells_are_twelve_records(cases, tmp_path):
    _, info, written, result = run_both(
        cases / "multiline_quoted_cells.csv", tmp_path / "o"
    )
    for texts in (written["text"].tolist(), result.assignments["text"].tolist()):
        assert len(texts) == 12
        assert (
            texts[0]
            == "First line of the complaint.\nSecond line: the refund never came."
        )
        assert texts[1] == 'She said "call back tomorrow", so I did, twice.'
        assert texts[6] == "Refund request #2:\n\nstill nothing after 30 days."
        assert texts[4] == "Cell that ends with a newline\n"
    assert info["counts"]["rows"] == 12 and not info["input"]["bad_lines"]


def test_all_unrelated_zero_groups_every_file_says_so(cases, tmp_path):
    output, info, written, result = run_both(
        cases / "all_unrelated.csv", tmp_path / "o"
    )
    assert info["counts"]["groups"] == 0 == result.n_clusters
    assert info["counts"]["by_status"] == {
        "clustered": 0,
        "unclustered": 20,
        "skipped": 0,
    }
    assert (written["status"] == "unclustered").all() and len(written) == 20
    assert "no groups were found" in output and "--min-cluster-size" in output
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "No groups were found" in html and 'class="card"' not in html
    clusters = json.loads((tmp_path / "o" / "clusters.json").read_text())
    assert clusters["clusters"] == [] and clusters["unclustered"]["size"] == 20
    assert pd.read_csv(tmp_path / "o" / "clusters.csv")["cluster_id"].tolist() == [-1]
    figure = result.plot()
    assert not figure.axes[0].texts, "no group labels on a map without groups"
    assert sum(len(c.get_offsets()) for c in figure.axes[0].collections) == 20
