"""The notebook API on small real data with the real default model."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import clustering
from clustering.errors import InputError, ParameterError


@pytest.fixture(scope="module")
def sample_result(wordnet_sample):
    return clustering.cluster_texts(wordnet_sample, "text", show_progress=False)


def test_dataframe_in_rich_result_out(sample_result, wordnet_sample):
    result = sample_result
    assert len(result.assignments) == len(wordnet_sample)
    assert result.assignments["id"].tolist() == wordnet_sample["id"].tolist()
    assert result.n_clusters >= 3
    groups = result.clusters[result.clusters.cluster_id >= 0]
    assert groups["size"].sum() + result.run_info["counts"]["unclustered"] == 400
    assert groups["size"].is_monotonic_decreasing
    assert result.clusters.iloc[-1]["label"] == "unclustered"
    assert groups["label"].is_unique


def test_central_texts_belong_to_their_group(sample_result):
    frame = sample_result.assignments
    for group in sample_result.groups:
        members = set(frame.loc[frame.cluster_id == group.cluster_id, "text"])
        assert set(group.central_texts) <= members
        assert len(group.central_texts) == len(set(group.central_texts))
        assert len(group.central_texts) <= min(5, group.n_distinct)


def test_plot_repr_and_save(sample_result, tmp_path):
    assert isinstance(sample_result.plot(), Figure)
    html = sample_result._repr_html_()
    assert "data:image/png;base64," in html and "ClusteringResult" in html
    sample_result.save(tmp_path / "out")
    assert (tmp_path / "out" / "report.html").is_file()


def test_list_and_series_inputs(wordnet_sample):
    texts = wordnet_sample["text"].iloc[:60].tolist()
    from_list = clustering.cluster_texts(texts, show_progress=False)
    from_series = clustering.cluster_texts(
        pd.Series(texts, name="gloss"), show_progress=False
    )
    assert from_list.assignments["text"].tolist() == texts
    assert from_series.assignments["gloss"].tolist() == texts
    pd.testing.assert_series_equal(
        from_list.assignments["cluster_id"], from_series.assignments["cluster_id"]
    )


def test_precomputed_embeddings_skip_the_model(wordnet_sample, embedder):
    texts = wordnet_sample["text"].tolist()
    vectors = embedder.embed(texts)
    result = clustering.cluster_texts(texts, embeddings=vectors * 3.0)
    assert result.run_info["model"]["name"] == "(given embeddings)"
    assert result.run_info["counts"]["embedded"] == 0
    np.testing.assert_allclose(
        np.linalg.norm(result.estimator.embeddings_, axis=1), 1, atol=1e-5
    )
    with pytest.raises(
        ParameterError, match=r"embeddings must be an array of shape \(400, dim\)"
    ):
        clustering.cluster_texts(texts, embeddings=vectors[:10])


def test_duplicates_always_share_a_group(wordnet_sample):
    texts = wordnet_sample["text"].iloc[:80].tolist() * 2
    result = clustering.cluster_texts(texts, show_progress=False)
    ids = result.assignments["cluster_id"].tolist()
    assert ids[:80] == ids[80:]
    assert result.run_info["counts"]["distinct"] == 80


def test_all_identical_is_one_group(cases):
    result = clustering.cluster_texts(
        pd.read_csv(cases / "all_identical.csv"), "text", show_progress=False
    )
    assert result.assignments["cluster_id"].tolist() == [0] * 60
    assert result.groups[0].size == 60 and result.groups[0].central_texts == [
        "Please reset my password."
    ]


@pytest.mark.parametrize("n_rows", [1, 2, 5])
def test_tiny_inputs_give_a_result_for_every_row(cases, n_rows):
    frame = pd.read_csv(cases / "tiny_five_rows.csv").iloc[:n_rows]
    result = clustering.cluster_texts(frame, "text", show_progress=False)
    assert len(result.assignments) == n_rows
    assert result.run_info["notes"], "what was adjusted must be noted"
    assert set(result.assignments["status"]) <= {"clustered", "unclustered"}


def test_no_usable_text_is_a_clear_error():
    with pytest.raises(InputError, match="no usable text in column 'text'.*empty: 2"):
        clustering.cluster_texts(["", "  ", "NA"], show_progress=False)


def test_min_cluster_size_above_the_data_is_refused_before_embedding():
    with pytest.raises(
        ParameterError,
        match=r"min_cluster_size must be between 2 and the number of distinct "
        r"texts \(3\); got 10",
    ):
        clustering.cluster_texts(["a b", "c d", "e f"], min_cluster_size=10)


def test_assign_noise_moves_rows_and_says_how_many(wordnet_sample, sample_result):
    moved = clustering.cluster_texts(
        wordnet_sample, "text", assign_noise=0.3, show_progress=False
    )
    before = sample_result.assignments["status"].value_counts()
    after = moved.assignments["status"].value_counts()
    info = moved.run_info["noise_assignment"]
    assert info["moved_rows"] == after.get("assigned", 0) > 0
    assert after.get("unclustered", 0) == before["unclustered"] - info["moved_rows"]
    assert sum(info["received_by_group"].values()) == info["moved_rows"]
    assigned = moved.assignments[moved.assignments.status == "assigned"]
    assert (assigned["cluster_id"] >= 0).all()
    assert (assigned["membership_strength"] >= 0.3).all()
    assert any("assigned to the group" in note for note in moved.run_info["notes"])


def test_levels_and_quality_panel_on_the_result(sample_result):
    levels = sample_result.run_info["levels"]
    ids = sorted(g["cluster_id"] for c in levels for g in c["groups"])
    assert ids == list(range(sample_result.n_clusters))
    assert sample_result.quality["groups"][0]["cluster_id"] == 0
    assert "stability" in sample_result.clusters.columns
