"""Rerun with confidence: identical reruns, order invariance, --from, compare."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clustering.cli import main
from clustering.compare import CHANGES, COMPARE_FILES, compare_runs

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def slice_csv(shared_data, tmp_path_factory):
    """300 Debian package descriptions (14 labelled sections) and a shuffled copy."""
    frame = pd.read_csv(
        shared_data / "debian_topics_small.csv", dtype=str, keep_default_na=False
    ).iloc[:300]
    folder = tmp_path_factory.mktemp("inputs")
    frame.to_csv(folder / "slice.csv", index=False)
    frame.sample(frac=1.0, random_state=7).to_csv(folder / "shuffled.csv", index=False)
    return folder / "slice.csv", folder / "shuffled.csv"


@pytest.fixture(scope="module")
def first_run(slice_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    run_cli("run", str(slice_csv[0]), "--out", str(out), "--no-cache", "-q")
    return out


def test_reruns_are_byte_identical_in_process_and_across_processes(
    first_run, slice_csv, tmp_path
):
    run_cli("run", str(slice_csv[0]), "--out", str(tmp_path / "again"), "--no-cache")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clustering",
            "run",
            str(slice_csv[0]),
            "--out",
            str(tmp_path / "process"),
            "--no-cache",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    # --quiet: nothing on stdout, and no progress bar of the model's loading.
    assert done.stdout == "" and "Loading weights" not in done.stderr
    groups = json.loads((first_run / "run.json").read_text())["counts"]["groups"]
    assert groups >= 3
    for name in ("assignments.csv", "clusters.csv"):
        expected = (first_run / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == expected, name
        assert (tmp_path / "process" / name).read_bytes() == expected, name


def test_a_rerun_served_by_the_caches_gives_the_same_files(
    first_run, slice_csv, tmp_path
):
    cache = tmp_path / "cache"
    for name in ("one", "two"):
        run_cli(
            "run",
            str(slice_csv[0]),
            "--out",
            str(tmp_path / name),
            "--cache-dir",
            str(cache),
            "-q",
        )
    stored = sorted(p.suffix for p in (cache / "results").iterdir())
    assert stored == [".json", ".json", ".npz"]  # reduction, search, quality
    first, second = (
        json.loads((tmp_path / name / "run.json").read_text())
        for name in ("one", "two")
    )
    assert second["counts"]["embedded"] == 0
    assert second["quality"] == first["quality"]
    for name in ("assignments.csv", "clusters.csv"):
        expected = (first_run / name).read_bytes()
        assert (tmp_path / "one" / name).read_bytes() == expected, name
        assert (tmp_path / "two" / name).read_bytes() == expected, name


def test_rows_in_another_order_keep_their_groups(
    first_run, slice_csv, shared_data, tmp_path
):
    # With a cache filled by a run on other texts (half of them shared): a text's
    # vector does not depend on the batch it was embedded in, so the groups are
    # those of the first run, made without any cache.
    other = pd.read_csv(
        shared_data / "debian_topics_small.csv", dtype=str, keep_default_na=False
    ).iloc[150:450]
    other.to_csv(tmp_path / "other.csv", index=False)
    cache = str(tmp_path / "cache")
    run_cli(
        "run",
        str(tmp_path / "other.csv"),
        "--out",
        str(tmp_path / "other"),
        "--cache-dir",
        cache,
        "-q",
    )
    run_cli(
        "run",
        str(slice_csv[1]),
        "--out",
        str(tmp_path / "shuffled"),
        "--cache-dir",
        cache,
        "-q",
    )
    info = json.loads((tmp_path / "shuffled" / "run.json").read_text())
    assert info["counts"]["embeddings_from_cache"] == 150
    given = pd.read_csv(first_run / "assignments.csv", dtype=str).set_index("id")
    shuffled = pd.read_csv(tmp_path / "shuffled" / "assignments.csv", dtype=str)
    assert (
        shuffled["id"].tolist() == pd.read_csv(slice_csv[1], dtype=str)["id"].tolist()
    )
    shuffled = shuffled.set_index("id").loc[given.index]
    assert (shuffled["cluster_id"] == given["cluster_id"]).all()
    assert (shuffled["cluster_label"] == given["cluster_label"]).all()
    assert (tmp_path / "shuffled" / "clusters.csv").read_bytes() == (
        first_run / "clusters.csv"
    ).read_bytes()


def test_run_from_run_json_repeats_the_run(first_run, slice_csv, tmp_path):
    record = json.loads((first_run / "run.json").read_text())
    assert record["input"]["path"] == str(slice_csv[0].resolve())
    assert record["options"]["random_state"] == 42
    assert record["fitted"]["min_cluster_size"] >= 2
    run_cli(
        "run",
        "--from",
        str(first_run / "run.json"),
        "--out",
        str(tmp_path / "repeat"),
        "-q",
    )
    for name in ("assignments.csv", "clusters.csv"):
        assert (tmp_path / "repeat" / name).read_bytes() == (
            first_run / name
        ).read_bytes()
    repeated = json.loads((tmp_path / "repeat" / "run.json").read_text())
    assert repeated["options"] == {
        **record["options"],
        "text_column": "text",
    }

    # A changed input is refused unless given explicitly.
    changed = tmp_path / "changed.json"
    record["input"]["sha256"] = "0" * 64
    changed.write_text(json.dumps(record))
    refused = CliRunner().invoke(
        main, ["run", "--from", str(changed), "--out", str(tmp_path / "no")]
    )
    assert refused.exit_code == 1
    assert "changed since the run recorded" in refused.output
    bad = CliRunner().invoke(
        main, ["run", "--from", str(slice_csv[0]), "--out", str(tmp_path / "no")]
    )
    assert bad.exit_code == 1 and "cannot read it" in bad.output


@pytest.fixture(scope="module")
def half_and_full(shared_data, tmp_path_factory):
    """A fit on half of 400 WordNet glosses, then one on all 400 with --previous."""
    frame = pd.read_csv(
        shared_data / "wordnet_core_small.csv", dtype=str, keep_default_na=False
    ).iloc[:400]
    folder = tmp_path_factory.mktemp("compare")
    frame.iloc[:200].to_csv(folder / "half.csv", index=False)
    frame.to_csv(folder / "full.csv", index=False)
    run_cli("run", str(folder / "half.csv"), "--out", str(folder / "half"), "-q")
    run_cli("run", str(folder / "full.csv"), "--out", str(folder / "full"), "-q")
    run_cli(
        "run",
        str(folder / "full.csv"),
        "--out",
        str(folder / "kept"),
        "--previous",
        str(folder / "half"),
        "-q",
    )
    return folder


def test_compare_half_with_full(half_and_full):
    folder = half_and_full
    result = run_cli("compare", str(folder / "half"), str(folder / "full"))
    assert "200 texts are in both runs" in result.output
    for name in COMPARE_FILES:
        assert (folder / "full" / name).stat().st_size > 0
    table = pd.read_csv(folder / "full" / "changes.csv")
    assert set(table["change"]) <= set(CHANGES)
    half = pd.read_csv(folder / "half" / "clusters.csv")
    full = pd.read_csv(folder / "full" / "clusters.csv")
    n_half, n_full = (half.cluster_id >= 0).sum(), (full.cluster_id >= 0).sum()

    # Every group of either run is accounted for, once.
    new_rows = table[table.new_id.notna()]
    assert len(new_rows) == n_full and new_rows.new_id.is_unique
    assert set(table.loc[table.old_id.notna(), "old_id"]) == set(range(n_half))

    # Most old groups carry on: same id, and more rows with twice the data.
    carried = table[table.change.isin(["kept", "grown", "shrunk", "merged", "split"])]
    assert len(carried) >= 0.6 * n_half
    assert (table.change == "grown").sum() >= 1
    kept = table[table.change.isin(["kept", "grown", "shrunk"])]
    assert (kept.old_id == kept.new_id).all()
    markdown = (folder / "full" / "changes.md").read_text()
    assert "| change | old id | new id |" in markdown
    assert "<table>" in (folder / "full" / "changes.html").read_text()


def test_run_with_previous_keeps_the_ids_of_matched_groups(half_and_full):
    folder = half_and_full
    comparison = compare_runs(folder / "half", folder / "full")
    kept = pd.read_csv(folder / "kept" / "assignments.csv", dtype=str)
    full = pd.read_csv(folder / "full" / "assignments.csv", dtype=str)

    # The same partition as the plain run, with the compared ids.
    mapping = {str(k): str(v) for k, v in comparison.new_ids.items()} | {"-1": "-1"}
    assert (full["cluster_id"].map(mapping) == kept["cluster_id"]).all()

    # An old group that carried on (not split or merged) hands its id to the new
    # group holding more of its rows than any other destination (unclustered
    # counts as one), and most rows of carried groups keep their id.
    half = pd.read_csv(folder / "half" / "assignments.csv", dtype=str)
    both = half.merge(kept, on="id", suffixes=("_old", "_new"))
    table = comparison.table
    carried = table[table.change.isin(["kept", "grown", "shrunk"])]
    assert len(carried) >= 1
    rows = both[both.cluster_id_old.isin(carried.old_id.astype(str))]
    for old_id, group in rows.groupby("cluster_id_old"):
        destinations = group.cluster_id_new.value_counts()
        print(f"rows of old group {old_id} went to {destinations.to_dict()}")
        assert destinations.index[0] == old_id
        assert len(destinations) == 1 or destinations.iloc[0] > destinations.iloc[1]
    assert (rows.cluster_id_new == rows.cluster_id_old).mean() >= 0.6
    info = json.loads((folder / "kept" / "run.json").read_text())
    assert info["previous"]["changes"] == comparison.counts
    assert "--previous" in (ROOT / "README.md").read_text()
