"""The command line, driven in-process (and in a subprocess where imports matter)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from clustering.cli import main
from clustering.report import OPTIONAL_FILES, OUTPUT_FILES

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def wordnet_run(shared_data, tmp_path_factory):
    """The real default model, end to end, on 2,000 labelled WordNet glosses."""
    out = tmp_path_factory.mktemp("wordnet") / "report"
    source = shared_data / "wordnet_core_small.csv"
    result = run_cli(
        "run", str(source), "--out", str(out), "--quiet", "--label-column", "label"
    )
    assert result.exit_code == 0, result.output
    return source, out


def test_every_output_file_is_written(wordnet_run):
    _, out = wordnet_run
    for name in set(OUTPUT_FILES) - set(OPTIONAL_FILES):
        assert (out / name).stat().st_size > 0, name
    assert not (out / "breakdown.csv").exists()
    assert (out / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert 'id="map"' in html and "Plotly.newPlot" in html
    # (plotly.js inside the page names URLs in its code; the markup must load none)
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"""(src|href)=["']https?:""", markup), "must be offline"
    info = json.loads((out / "run.json").read_text())
    assert set(info["timings_s"]) >= {"embed", "reduce", "cluster", "describe"}
    assert info["versions"]["umap-learn"] and info["input"]["sha256"]
    clusters = json.loads((out / "clusters.json").read_text())
    assert len(clusters["clusters"]) == info["counts"]["groups"] > 0
    assert html.count('class="card"') == info["counts"]["groups"]


def test_assignments_keep_every_row_in_input_order(wordnet_run):
    source, out = wordnet_run
    given = pd.read_csv(source, dtype=str, keep_default_na=False)
    written = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert len(written) == len(given) == 2000
    pd.testing.assert_frame_equal(written[given.columns], given)
    assert set(written["status"]) <= {"clustered", "unclustered"}
    clustered = written["status"] == "clustered"
    assert (written.loc[~clustered, "cluster_id"] == "-1").all()
    assert (written.loc[~clustered, "cluster_label"] == "unclustered").all()


def test_clusters_csv_matches_assignments(wordnet_run):
    _, out = wordnet_run
    clusters = pd.read_csv(out / "clusters.csv")
    assignments = pd.read_csv(out / "assignments.csv")
    counts = assignments["cluster_id"].value_counts()
    for row in clusters.itertuples():
        assert counts.get(row.cluster_id, 0) == row.size
    assert clusters["share"].iloc[:-1].sum() + clusters["share"].iloc[
        -1
    ] == pytest.approx(1)
    assert {"keywords", "central_text_1"} <= set(clusters.columns)


def test_groups_agree_with_labels_at_least_as_well_as_the_common_defaults(
    wordnet_run, embedder
):
    import hdbscan
    import umap

    source, out = wordnet_run
    given = pd.read_csv(source)
    ours = pd.read_csv(out / "assignments.csv")["cluster_id"].to_numpy()

    # The defaults most tools copy, on the same vectors.
    vectors = embedder.embed(given["text"].tolist())
    reduced = umap.UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42
    ).fit_transform(vectors)
    baseline = hdbscan.HDBSCAN(min_cluster_size=10).fit_predict(reduced)

    truth = given["label"].to_numpy()
    scores = {
        name: (
            adjusted_rand_score(truth, labels),
            normalized_mutual_info_score(truth, labels),
        )
        for name, labels in (("ours", ours), ("baseline", baseline))
    }
    print("ARI / NMI:", scores)
    assert scores["ours"][0] >= scores["baseline"][0]
    assert scores["ours"][1] >= scores["baseline"][1]


def test_run_json_and_report_hold_the_search_and_the_quality_panel(wordnet_run):
    source, out = wordnet_run
    info = json.loads((out / "run.json").read_text())
    candidates = info["search"]["candidates"]
    chosen = [c for c in candidates if c["chosen"]]
    assert len(candidates) > 10 and len(chosen) == 1
    assert chosen[0]["min_cluster_size"] == info["fitted"]["min_cluster_size"]
    assert chosen[0]["n_groups"] == info["counts"]["groups"]

    quality = info["quality"]
    assert 0 < quality["modularity"] <= 1 and -1 <= quality["silhouette"] <= 1
    assert -1 <= quality["relative_validity"] <= 1
    assert len(quality["groups"]) == info["counts"]["groups"]
    for group in quality["groups"]:
        assert 0 <= group["stability"] <= 1
        assert group["unstable"] == (group["stability"] < 0.5)

    # Agreement with --label-column, recomputed from the written files.
    given = pd.read_csv(source)
    ours = pd.read_csv(out / "assignments.csv")["cluster_id"]
    labels = quality["labels"]
    assert labels["ari"] == pytest.approx(
        adjusted_rand_score(given["label"], ours), abs=1e-4
    )
    assert sum(sum(row.values()) for row in labels["confusion"].values()) == 2000
    html = (out / "report.html").read_text()
    assert 'id="quality"' in html and "Confusion table" in html


def test_second_run_embeds_nothing(wordnet_run, tmp_path):
    source, _ = wordnet_run
    result = run_cli("run", str(source), "--out", str(tmp_path / "again"), "--quiet")
    assert result.exit_code == 0
    info = json.loads((tmp_path / "again" / "run.json").read_text())
    assert info["counts"]["embedded"] == 0
    assert info["counts"]["embeddings_from_cache"] == 2000


def test_existing_report_is_not_overwritten_without_force(wordnet_run):
    source, out = wordnet_run
    before = (out / "assignments.csv").read_bytes()
    result = CliRunner().invoke(main, ["run", str(source), "--out", str(out)])
    assert result.exit_code == 1
    assert "already holds a report; pass --force" in result.output
    assert (out / "assignments.csv").read_bytes() == before


def test_summary_names_encoding_column_and_counts(cases, tmp_path):
    result = run_cli(
        "run", str(cases / "cp1252_export.csv"), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 0, result.output
    assert "encoding cp1252" in result.output and "text column 'text'" in result.output
    written = pd.read_csv(tmp_path / "o" / "assignments.csv")
    assert written["text"].iloc[2] == "I paid €20 extra for express shipping."


def test_all_unrelated_writes_every_file_and_says_so(cases, tmp_path):
    result = run_cli(
        "run", str(cases / "all_unrelated.csv"), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "o" / "run.json").read_text())
    if info["counts"]["groups"] == 0:
        assert "no groups were found" in result.output
        assert "No groups were found" in (tmp_path / "o" / "report.html").read_text()
    for name in set(OUTPUT_FILES) - set(OPTIONAL_FILES):
        assert (tmp_path / "o" / name).exists()


def test_html_in_a_cell_shows_as_text(tmp_path):
    rows = ["<script>alert('x')</script> the app crashes on start"] * 3 + [
        "the app crashes when I open settings",
        "app crash after update",
        "my order never arrived",
        "the parcel was late",
        "order arrived damaged",
    ]
    source = tmp_path / "html.csv"
    pd.DataFrame({"text": rows}).to_csv(source, index=False)
    assert (
        run_cli("run", str(source), "--out", str(tmp_path / "o"), "-q").exit_code == 0
    )
    html = (tmp_path / "o" / "report.html").read_text()
    assert "<script>alert" not in html


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_help_imports_no_heavy_library():
    done = _python(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from clustering.cli import main\n"
        "assert CliRunner().invoke(main, ['run', '--help']).exit_code == 0\n"
        "heavy = {'torch', 'umap', 'hdbscan', 'sentence_transformers', 'pandas',"
        " 'sklearn', 'matplotlib'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--min-cluster-size", "1"], "min_cluster_size must be a whole number >= 2"),
        (["--min-cluster-size", "0"], "min_cluster_size must be a whole number >= 2"),
        (["--min-cluster-size", "-3"], "min_cluster_size must be a whole number >= 2"),
        (["--min-cluster-size", "2.5"], "got '2.5'"),
        (
            ["--min-cluster-size", "100"],
            "between 2 and the number of distinct texts (24)",
        ),
        (["--n-neighbors", "1"], "n_neighbors must be a whole number >= 2; got '1'"),
        (
            ["--text-column", "body"],
            "text_column must be one of the columns 'id', 'text'",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors_before_the_model_loads(
    cases, tmp_path, args, message
):
    code = (
        "import sys\n"
        "from clustering.cli import main\n"
        f"sys.argv = ['clustering', 'run', {str(cases / 'bad_parameters.csv')!r},"
        f" '--out', {str(tmp_path / 'o')!r}] + {args!r}\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert 'torch' not in sys.modules, 'model loaded before the check'\n"
        "    raise\n"
    )
    done = _python(code)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert message in lines[0]
    assert not (tmp_path / "o").exists()


def test_python_dash_m_works():
    done = subprocess.run(
        [sys.executable, "-m", "clustering", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "run" in done.stdout


def test_every_cli_option_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    command = main.commands["run"]
    for param in command.params:
        for flag in param.opts:
            if flag.startswith("--"):
                assert flag in readme, f"{flag} is not in README.md"
