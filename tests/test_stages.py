"""Unit tests of the reduce, cluster and describe stages on seeded toy data."""

import numpy as np
import pytest
from sklearn.manifold import trustworthiness
from sklearn.metrics import adjusted_rand_score

from clustering.cache import EmbeddingCache, ResultCache
from clustering.cluster import default_min_cluster_size, fit_clusters, renumber
from clustering.describe import (
    central_texts,
    class_tfidf_keywords,
    describe_groups,
    unique_labels,
)
from clustering.reduce import reduce_vectors


def test_reduction_shapes_and_trustworthiness(blobs):
    vectors, _ = blobs
    reduction = reduce_vectors(vectors, n_neighbors=15, n_components=5)
    assert reduction.cluster_coords.shape == (len(vectors), 5)
    assert reduction.map_coords.shape == (len(vectors), 2)
    assert reduction.n_neighbors_used == 15 and reduction.notes == []
    assert trustworthiness(vectors, reduction.map_coords, n_neighbors=10) > 0.85


def test_reduction_is_seeded(blobs):
    vectors, _ = blobs
    first = reduce_vectors(vectors, random_state=3)
    second = reduce_vectors(vectors, random_state=3)
    np.testing.assert_array_equal(first.cluster_coords, second.cluster_coords)


def test_a_cached_reduction_is_the_fitted_one_and_keyed_by_settings(
    embedder, wordnet_sample, tmp_path
):
    vectors = embedder.embed(sorted(set(wordnet_sample.text))[:300])
    cache = ResultCache(tmp_path)
    fitted = reduce_vectors(vectors, cache=cache)
    assert len(list(cache.folder.glob("*.npz"))) == 1
    again = reduce_vectors(vectors, cache=cache)
    for name in ("cluster_coords", "map_coords", "knn_indices"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fitted, name))
    assert again.cluster_umap == fitted.cluster_umap is not None
    assert again.map_umap == fitted.map_umap and again.notes == fitted.notes
    # Read back, not refitted: the stored file is what came back.
    stored = next(cache.folder.glob("*.npz"))
    with np.load(stored) as arrays:
        np.testing.assert_array_equal(arrays["map_coords"], again.map_coords)

    # Other settings or other vectors are other entries.
    other = reduce_vectors(vectors, n_neighbors=10, cache=cache)
    assert other.n_neighbors_used == 10
    reduce_vectors(vectors[:-1], cache=cache)
    assert len(list(cache.folder.glob("*.npz"))) == 3

    # A damaged file is refitted, not trusted, and only the newest few are kept.
    stored.write_bytes(stored.read_bytes()[:200])  # cut short, as by a crash
    repaired = reduce_vectors(vectors, cache=cache)
    np.testing.assert_array_equal(repaired.cluster_coords, fitted.cluster_coords)
    small = ResultCache(tmp_path, keep=2)
    reduce_vectors(vectors[:-2], cache=small)
    assert len(list(small.folder.glob("*.npz"))) == 2
    assert not list(small.folder.glob("*.part"))


def test_the_map_fitted_in_a_second_process_is_the_one_fitted_here(
    embedder, wordnet_sample, monkeypatch, caplog
):
    import clustering.reduce as reduce_module

    vectors = embedder.embed(sorted(set(wordnet_sample.text))[:200])
    monkeypatch.setattr(reduce_module, "CONCURRENT_MIN", 10**9)
    alone = reduce_vectors(vectors)
    monkeypatch.setattr(reduce_module, "CONCURRENT_MIN", 0)
    from clustering.parallel import can_fork

    assert can_fork()  # the CI machine has 2 cores and Linux
    with caplog.at_level("WARNING", logger="clustering.parallel"):
        beside = reduce_vectors(vectors)
    assert "failed" not in caplog.text  # the child did the work, not a fallback
    np.testing.assert_array_equal(beside.map_coords, alone.map_coords)
    np.testing.assert_array_equal(beside.cluster_coords, alone.cluster_coords)
    assert beside.map_umap == alone.map_umap


def test_a_cached_search_gives_the_same_groups(embedder, wordnet_sample, tmp_path):
    from clustering.quality import knn_graph

    vectors = embedder.embed(sorted(set(wordnet_sample.text))[:300])
    cache = ResultCache(tmp_path)
    reduction = reduce_vectors(vectors, cache=cache)
    graph = knn_graph(reduction.knn_indices)

    def search():
        return fit_clusters(
            reduction.cluster_coords,
            graph=graph,
            cache=cache,
            cache_key=reduction.cache_key,
        )

    first = search()
    assert len(list(cache.folder.glob("*.json"))) == 1 and len(first.search) > 5
    second = search()
    assert second.search == first.search
    np.testing.assert_array_equal(second.labels, first.labels)
    np.testing.assert_array_equal(second.strengths, first.strengths)
    assert second.min_cluster_size == first.min_cluster_size
    # Fixing a value searches other candidates: another record.
    fit_clusters(
        reduction.cluster_coords,
        graph=graph,
        min_samples=5,
        cache=cache,
        cache_key=reduction.cache_key,
    )
    assert len(list(cache.folder.glob("*.json"))) == 2


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 12])
def test_tiny_inputs_reduce_and_cluster_without_error(n):
    rng = np.random.default_rng(n)
    vectors = rng.normal(size=(n, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reduction = reduce_vectors(vectors)
    assert reduction.map_coords.shape == (n, 2)
    assert np.isfinite(reduction.map_coords).all()
    if n < 16:
        assert reduction.notes, "an adjustment for small data must be noted"
    clusters = fit_clusters(reduction.cluster_coords)
    assert clusters.labels.shape == (n,)


def test_blobs_are_found(blobs):
    vectors, truth = blobs
    reduction = reduce_vectors(vectors)
    clusters = fit_clusters(reduction.cluster_coords, min_cluster_size=10)
    assert clusters.n_clusters == 4
    assert adjusted_rand_score(truth, clusters.labels) > 0.95
    assert ((clusters.strengths > 0) == (clusters.labels >= 0)).all()


def test_one_repeated_text_is_one_group_and_a_lone_text_is_not():
    one = fit_clusters(np.zeros((1, 5)), np.array([60]))
    assert one.labels.tolist() == [0] and one.strengths.tolist() == [1.0]
    lone = fit_clusters(np.zeros((1, 5)), np.array([1]))
    assert lone.labels.tolist() == [-1]


def test_default_min_cluster_size_scales_with_data():
    sizes = [default_min_cluster_size(n) for n in (4, 24, 1000, 5000, 50000)]
    assert sizes == [2, 5, 20, 100, 1000]


def test_renumber_is_by_size_then_first_member():
    labels = np.array([7, 7, 2, 2, -1, 9, 9, 9])
    assert renumber(labels).tolist() == [1, 1, 2, 2, -1, 0, 0, 0]
    assert renumber(labels, weights=np.array([5, 5, 1, 1, 1, 1, 1, 1]))[0] == 0


TOY = [
    "the pasta sauce needs more garlic",
    "bake the bread with fresh yeast",
    "garlic bread and tomato sauce",
    "my laptop battery drains fast",
    "the laptop screen flickers",
    "battery and screen replaced on my laptop",
]


def test_keywords_are_distinctive_per_group():
    keywords = class_tfidf_keywords(TOY, np.array([0, 0, 0, 1, 1, 1]), n_keywords=3)
    assert "laptop" in keywords[1] and "laptop" not in keywords[0]
    assert {"garlic", "sauce", "bread"} & set(keywords[0])


def test_central_texts_are_members_without_repeats_and_never_too_many():
    vectors = np.eye(4, dtype=np.float32)
    vectors[1] = vectors[0]
    nearest, cohesion = central_texts(vectors, np.array([0, 1, 2]), n_texts=10)
    assert sorted(nearest.tolist()) == [0, 1, 2]
    assert 0 < cohesion <= 1


def test_labels_are_unique_across_groups():
    labels = unique_labels({0: ["a", "b", "c"], 1: ["a", "b", "c"], 2: []})
    assert len(set(labels.values())) == 3


def test_describe_groups_counts_rows_and_shares():
    vectors = np.random.default_rng(0).normal(size=(6, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    groups = describe_groups(
        TOY,
        vectors,
        np.array([0, 0, 0, 1, 1, -1]),
        np.array([1, 1, 2, 1, 1, 1]),
        n_central=2,
    )
    assert [g.size for g in groups] == [4, 2]
    assert groups[0].share == pytest.approx(4 / 7)
    assert all(len(g.central_texts) <= 2 for g in groups)
    assert set(groups[1].central_texts) <= set(TOY[3:5])


def test_cache_round_trip_is_keyed_by_model(tmp_path):
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache = EmbeddingCache("model-a", tmp_path)
    cache.put(["x", "y"], vectors)
    found, missing = cache.get(["y", "z", "x"])
    assert missing == [1]
    np.testing.assert_array_equal(found, vectors[[1, 0]])
    other, missing = EmbeddingCache("model-b", tmp_path).get(["x"])
    assert other is None and missing == [0]


def test_central_texts_skip_near_duplicates():
    # Two near-identical central texts and a third, different member.
    vectors = np.array([[1.0, 0.0, 0.0], [1.0, 0.01, 0.0], [0.8, 0.0, 0.6]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    members = np.arange(3)
    centrality_only, _ = central_texts(vectors, members, 2, diversity=0.0)
    diverse, _ = central_texts(vectors, members, 2, diversity=0.5)
    assert sorted(centrality_only.tolist()) == [0, 1]
    assert len(set(diverse.tolist()) & {0, 1}) == 1 and 2 in diverse


def test_sibling_labels_lead_with_words_of_their_own():
    labels = unique_labels(
        {0: ["music", "audio", "player"], 1: ["music", "audio", "midi", "synth"]}
    )
    assert labels[1].startswith("midi") and labels[0] != labels[1]


def test_bfloat16_vectors_match_float32_and_are_cached_apart(embedder, shared_data):
    import pandas as pd

    from clustering.embed import Embedder

    texts = pd.read_csv(shared_data / "wordnet_core_small.csv").text.tolist()[:200]
    reference = Embedder(show_progress=False, use_cache=False, precision="float32")
    fast = Embedder(show_progress=False, use_cache=False, precision="bfloat16")
    cosine = (reference.embed(texts) * fast.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.99
    assert reference.model_key != fast.model_key
    assert fast.model_key.endswith("+bfloat16")
    assert embedder.precision_ in ("float32", "bfloat16")


def test_a_vector_does_not_depend_on_the_texts_embedded_with_it(shared_data):
    import pandas as pd

    from clustering.embed import Embedder

    texts = pd.read_csv(shared_data / "fortunes_small.csv").text.tolist()[:400]
    embedder = Embedder(show_progress=False, use_cache=False)
    alone = embedder.embed(texts[:150])
    mixed = embedder.embed(texts[100:400][::-1])  # other companions, other order
    shared = mixed[::-1][:50]  # texts 100..149
    assert np.array_equal(alone[100:150], shared)  # the same bits, not just close
    plain = embedder.encoder.encode(texts[:150], normalize_embeddings=True)
    assert (np.sum(alone * plain, axis=1) > 0.99).all()  # what the model gives
