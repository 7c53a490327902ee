"""Texts over the model's token limit are counted, reported, and can be kept whole."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import clustering
from clustering.cli import main


@pytest.fixture(scope="module")
def long_and_short(shared_data, embedder, tmp_path_factory):
    """The fortunes longer than 256 tokens, and 25 short ones, as a CSV."""
    frame = pd.read_csv(
        shared_data / "fortunes_small.csv", dtype=str, keep_default_na=False
    )
    tokens = embedder.count_tokens(frame["text"].tolist())
    chosen = pd.concat([frame[tokens > 256], frame[tokens <= 256].iloc[:25]])
    path = tmp_path_factory.mktemp("long") / "long.csv"
    chosen.to_csv(path, index=False)
    return path, int((tokens > 256).sum()), int(tokens.max())


def test_pieces_fit_the_limit_and_keep_the_text(embedder, shared_data):
    frame = pd.read_csv(shared_data / "fortunes_small.csv", dtype=str)
    text = max(frame["text"], key=len)
    pieces = embedder.split_text(text)
    assert len(pieces) >= 2
    assert (embedder.count_tokens(pieces) <= embedder.max_seq_length).all()
    # In order, nothing but whitespace between them.
    assert "".join("".join(pieces).split()) == "".join(text.split())
    position = 0
    for piece in pieces:
        position = text.index(piece, position) + len(piece)
    assert embedder.split_text("short text") == ["short text"]


def test_long_texts_are_counted_and_chunk_embeds_them_whole(long_and_short, tmp_path):
    path, n_long, longest = long_and_short
    assert n_long >= 10

    # Default: counted, reported with the limit, cut by the model.
    done = CliRunner().invoke(
        main, ["run", str(path), "--out", str(tmp_path / "cut")], catch_exceptions=False
    )
    assert done.exit_code == 0, done.output
    info = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert info["counts"]["long_texts"] == {
        "limit": 256,
        "rows": n_long,
        "distinct": n_long,
        "longest_tokens": longest,
        "mode": "truncate",
    }
    assert info["model"]["max_tokens"] == 256
    assert (
        f"{n_long} row(s) ({n_long} distinct texts) are longer than the model's "
        "limit of 256 tokens" in done.output
    )
    assert "--long-texts chunk" in done.output

    # chunk: only the long texts are embedded again, under their own cache key.
    done = CliRunner().invoke(
        main,
        ["run", str(path), "--out", str(tmp_path / "whole"), "--long-texts", "chunk"],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    whole = json.loads((tmp_path / "whole" / "run.json").read_text())
    assert whole["counts"]["long_texts"]["mode"] == "chunk"
    assert whole["counts"]["embedded"] == n_long
    assert whole["counts"]["embeddings_from_cache"] == 25
    assert "each was embedded whole" in done.output

    # The API gives the same vectors from the cache; long ones differ by mode.
    cut = clustering.cluster_file(path, show_progress=False)
    chunked = clustering.cluster_file(path, show_progress=False, long_texts="chunk")
    assert chunked.run_info["counts"]["embedded"] == 0
    texts = cut.estimator.texts_
    assert texts == chunked.estimator.texts_
    tokens = chunked.estimator.embedder_.token_counts_
    similarity = np.sum(cut.estimator.embeddings_ * chunked.estimator.embeddings_, 1)
    assert np.allclose(similarity[tokens <= 256], 1, atol=1e-5)
    assert (similarity[tokens > 256] < 1 - 1e-5).all()
    assert similarity[tokens > 256].min() < 0.99
    assert np.allclose(np.linalg.norm(chunked.estimator.embeddings_, axis=1), 1)
