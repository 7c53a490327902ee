"""A scaled-down run of benchmarks/speed.py: it must work and be right, not fast."""

from __future__ import annotations

import importlib.util
import os

import pytest
from conftest import ROOT


def _speed_module():
    spec = importlib.util.spec_from_file_location(
        "speed", ROOT / "benchmarks" / "speed.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variations_are_distinct_and_keep_labels(shared_data):
    speed = _speed_module()
    frame, base_index = speed.make_rows(12_000)
    assert len(frame) == 12_000 and frame.text.is_unique
    base = frame.iloc[:5000]
    assert (frame.label.to_numpy() == base.label.to_numpy()[base_index]).all()


def test_flops_per_sentence_counts_the_transformer():
    speed = _speed_module()
    # 6 layers x 2 x (4 x 384^2 + 2 x 384 x 1536) per token, plus attention.
    assert speed.flops_per_sentence(1) == pytest.approx(6 * 2 * 1_769_472 + 6 * 1536)


@pytest.mark.slow
def test_scaled_down_benchmark_runs_and_scores(shared_data, tmp_path, capsys):
    """300 rows embedded (cold, then rerun from the cache), 600 on given vectors.

    The embedding throughput part is left out here (two more model loads); the
    precisions' agreement is tested in test_stages.py.

    The BERTopic side runs only when $BERTOPIC_PYTHON names a Python that has it.
    """
    speed = _speed_module()
    theirs = os.environ.get("BERTOPIC_PYTHON", "")
    results = speed.main(
        [
            "--sizes=300",
            "--memory-size=600",
            "--first-run-size=0",
            "--embed-sentences=0",
            f"--bertopic-python={theirs}",
            f"--work={tmp_path}",
        ]
    )
    printed = capsys.readouterr().out
    row = results["sizes"][0]
    ours, rerun = row["ours"], row["ours_rerun"]

    # Every row is accounted for, and the groups mean something.
    assert ours["rows_out"] == 300 and ours["groups"] >= 2
    assert ours["nmi"] > 0.1
    # The rerun embeds nothing and finds the same groups.
    assert (rerun["embedded"], rerun["from_cache"]) == (0, 300)
    assert rerun["nmi"] == ours["nmi"]
    # Precomputed vectors: no model, rows kept, real groups.
    memory = results["memory"]["ours"]
    assert memory["rows_out"] == 600 and memory["embedded"] == 0
    assert memory["nmi"] > 0.2 and memory["peak_mb"] > 0
    assert "300 rows" in printed and "peak" in printed
    if theirs:
        assert row["theirs"]["rows_out"] == 300
    else:
        assert "BERTopic side skipped" in printed
