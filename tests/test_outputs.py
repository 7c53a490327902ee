"""Outputs: every status accounted for, nothing half-written, nothing unescaped."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from click.testing import CliRunner

import clustering
from clustering.cli import main
from clustering.report import OPTIONAL_FILES, OUTPUT_FILES

HOTEL = [
    "The hotel room was dirty when we arrived.",
    "Hotel staff were rude at the front desk.",
    "Our hotel room smelled of smoke.",
    "The hotel breakfast was cold and late.",
    "Hotel check-in took over an hour.",
    "The hotel pool was closed all week.",
]
LOGIN = [
    "I cannot log in to the app after the update.",
    "The app login screen freezes.",
    "Password reset emails for the app never arrive.",
    "The app logs me out every few minutes.",
    "Two-factor codes for the app login expire too fast.",
    "The app rejects my correct password.",
]
#: One row per skip reason, in a JSON Lines file so a number can be a number.
SKIPPED = {
    "empty": "   ",
    "missing_value": None,
    "not_text": 1234,
    "number_only": "404",
    "no_letters_or_digits": "?!...",
}


@pytest.fixture(scope="module")
def status_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("statuses") / "statuses.jsonl"
    rows = [{"text": t} for t in HOTEL + LOGIN]
    rows += [{"text": value, "reason": reason} for reason, value in SKIPPED.items()]
    rows.append({"text": "The volcano erupted during the chess final."})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = clustering.cluster_file(path, text_column="text", show_progress=False)
    return result


@pytest.mark.parametrize("reason", list(SKIPPED))
def test_each_skip_reason_is_a_skipped_row_with_no_group(status_run, reason):
    frame = status_run.assignments
    row = frame[frame["reason"] == reason].iloc[0]
    assert row["status"] == "skipped" and row["skip_reason"] == reason
    assert pd.isna(row["cluster_id"]) and row["cluster_label"] == ""
    assert status_run.run_info["counts"]["skipped_by_reason"][reason] == 1


def test_clustered_and_unclustered_statuses_and_counts(status_run):
    frame = status_run.assignments
    counts = status_run.run_info["counts"]
    assert len(frame) == 18
    assert counts["by_status"] == frame["status"].value_counts().to_dict() | {
        k: 0
        for k in ("clustered", "unclustered", "skipped")
        if k not in set(frame["status"])
    }
    assert sum(counts["by_status"].values()) == counts["rows"] == 18
    hotel = frame.iloc[: len(HOTEL)]
    login = frame.iloc[len(HOTEL) : len(HOTEL) + len(LOGIN)]
    assert (hotel["status"] == "clustered").all() and hotel["cluster_id"].nunique() == 1
    assert (login["status"] == "clustered").all() and login["cluster_id"].nunique() == 1
    assert hotel["cluster_id"].iloc[0] != login["cluster_id"].iloc[0]
    unclustered = frame[frame["status"] == "unclustered"]
    assert (unclustered["cluster_id"] == -1).all()
    assert (unclustered["cluster_label"] == "unclustered").all()


@pytest.fixture
def small_input(cases, tmp_path):
    source = tmp_path / "input.csv"
    source.write_bytes((cases / "bad_parameters.csv").read_bytes())
    return source, hashlib.sha256(source.read_bytes()).hexdigest()


def _folder_state(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_interrupted_write_leaves_no_report_and_input_untouched(
    small_input, tmp_path, monkeypatch
):
    import clustering.report as report

    source, digest = small_input
    out = tmp_path / "out"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # Ctrl-C while the HTML is being written, after the CSV and JSON files.
    monkeypatch.setattr(report, "render_report_html", interrupted)
    done = CliRunner().invoke(main, ["run", str(source), "--out", str(out), "-q"])
    assert done.exit_code == 130
    assert "Interrupted: no report was written" in done.output
    assert not out.exists() or not any(out.iterdir())
    assert not list(tmp_path.glob(".clustering-*")), "staging folder left behind"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_interrupted_replace_keeps_the_old_report_whole(
    small_input, tmp_path, monkeypatch
):
    import clustering.report as report

    source, digest = small_input
    out = tmp_path / "out"
    done = CliRunner().invoke(main, ["run", str(source), "--out", str(out), "-q"])
    assert done.exit_code == 0, done.output
    before = _folder_state(out)
    assert set(before) == set(OUTPUT_FILES) - set(OPTIONAL_FILES)

    # Ctrl-C after three of the six new files were moved into place.
    real_replace = report.os.replace
    calls = {"n": 0}

    def replace_then_interrupt(src, dst):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(report.os, "replace", replace_then_interrupt)
    done = CliRunner().invoke(
        main, ["run", str(source), "--out", str(out), "-q", "--force", "--seed", "7"]
    )
    assert done.exit_code == 130
    assert calls["n"] > 4, "the moved files were put back"
    assert _folder_state(out) == before
    assert not list(tmp_path.glob(".clustering-*"))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_html_in_cells_and_column_names_shows_as_text(tmp_path):
    column = "<img src=x onerror=alert(1)>{{ 7*7 }}"
    texts = [f"<script>alert('{i}')</script> the app crashes" for i in range(3)]
    texts += HOTEL
    source = tmp_path / "html.csv"
    pd.DataFrame({"id": range(len(texts)), column: texts}).to_csv(source, index=False)
    done = CliRunner().invoke(
        main,
        [
            "run",
            str(source),
            "--out",
            str(tmp_path / "o"),
            "-q",
            "--text-column",
            column,
        ],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;{{ 7*7 }}" in html
    written = pd.read_csv(tmp_path / "o" / "assignments.csv", dtype=str)
    assert written.columns[1] == column
    assert (
        json.loads((tmp_path / "o" / "run.json").read_text())["input"]["text_column"]
        == column
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "text\nNA\n\n   \n",
            "no usable text in column 'text': all 2 rows were skipped",
        ),
        ("text\n", "the input has no rows: there is nothing to cluster"),
        (
            "id,note\n",
            "the input has a header ('id', 'note') but no rows: there is nothing",
        ),
        ("", "input file is empty"),
        ("id,text\n1,ok\n2,a,b\n", "line 3: expected 2 fields, saw 3"),
    ],
)
def test_unusable_input_is_a_one_line_error(tmp_path, content, message):
    source = tmp_path / "in.csv"
    source.write_text(content)
    done = CliRunner().invoke(main, ["run", str(source), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
    assert not (tmp_path / "o").exists()


def test_bad_lines_skipped_are_listed_in_summary_run_json_and_report(tmp_path):
    source = tmp_path / "in.csv"
    rows = "".join(f'{i},"{t}"\n' for i, t in enumerate(HOTEL + LOGIN))
    source.write_text("id,text\n" + rows + '99,"broken","extra"\n100,"unclosed\n')
    done = CliRunner().invoke(
        main,
        ["run", str(source), "--out", str(tmp_path / "o"), "--on-bad-lines", "skip"],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    assert "Skipped 2 malformed line(s) of the file" in done.output
    assert "line 14, 15 (details in run.json)" in done.output
    info = json.loads((tmp_path / "o" / "run.json").read_text())
    assert [b["line"] for b in info["input"]["bad_lines"]] == [14, 15]
    assert info["input"]["bad_lines"][0]["reason"] == "expected 2 fields, saw 3"
    assert info["counts"]["bad_lines_skipped"] == 2 and info["counts"]["rows"] == 12
    assert info["input"]["on_bad_lines"] == "skip"
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "Malformed lines skipped" in html and "14, 15" in html
