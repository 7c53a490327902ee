"""The parameter search and the quality figures, on seeded blobs and real labels."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from clustering.cluster import (
    _cut_tree,
    _single_linkage,
    candidate_grid,
    fit_clusters,
    refit_labels,
)
from clustering.quality import (
    best_jaccard,
    group_stability,
    knn_graph,
    label_agreement,
    modularity,
    relative_validity,
    silhouette,
)
from clustering.reduce import reduce_vectors


@pytest.fixture(scope="module")
def reduced_blobs():
    from conftest import make_blobs_on_sphere

    vectors, truth = make_blobs_on_sphere(n_per_blob=80, n_blobs=5, seed=1)
    reduction = reduce_vectors(vectors, random_state=0)
    return reduction, knn_graph(reduction.knn_indices), truth


def test_modularity_prefers_the_true_groups_to_blobs_and_to_noise(reduced_blobs):
    _, graph, truth = reduced_blobs
    merged = np.where(truth < 3, 0, 1)
    noise = np.full(len(truth), -1)
    half_noise = np.where(np.arange(len(truth)) % 2 == 0, truth, -1)
    true_score = modularity(graph, truth)
    assert true_score > modularity(graph, merged) + 0.1
    assert true_score > modularity(graph, half_noise) + 0.1
    assert modularity(graph, noise) < 0.05


def test_search_finds_the_blobs_and_reports_every_candidate(reduced_blobs):
    reduction, graph, truth = reduced_blobs
    clusters = fit_clusters(reduction.cluster_coords, graph=graph)
    assert clusters.n_clusters == 5
    assert adjusted_rand_score(truth, clusters.labels) > 0.95

    table = clusters.search
    pairs = candidate_grid(len(truth))
    assert len(table) == len(pairs) + 1  # every pair with eom, then leaf on the best
    chosen = [c for c in table if c["chosen"]]
    assert len(chosen) == 1
    assert chosen[0]["score"] == max(c["score"] for c in table)
    assert (chosen[0]["min_cluster_size"], chosen[0]["min_samples"]) == (
        clusters.min_cluster_size,
        clusters.min_samples,
    )
    assert {c["method"] for c in table} == {"eom", "leaf"}


def test_given_values_are_kept_and_only_the_rest_is_searched(reduced_blobs):
    reduction, graph, _ = reduced_blobs
    clusters = fit_clusters(
        reduction.cluster_coords, graph=graph, min_cluster_size=30, method="eom"
    )
    assert clusters.min_cluster_size == 30
    assert {c["min_cluster_size"] for c in clusters.search} == {30}
    assert {c["method"] for c in clusters.search} == {"eom"}
    fixed = fit_clusters(
        reduction.cluster_coords,
        graph=graph,
        min_cluster_size=30,
        min_samples=5,
        method="leaf",
    )
    assert fixed.search == [] and fixed.method == "leaf"


def test_cutting_one_tree_per_min_samples_gives_hdbscans_own_labels(reduced_blobs):
    # The search builds HDBSCAN's hierarchy once per min_samples and cuts it for
    # each min_cluster_size: that must be exactly what a full fit gives.
    import hdbscan

    reduction, _, _ = reduced_blobs
    coords = reduction.cluster_coords
    checked = 0
    for ms in (1, 5, 10):
        tree = _single_linkage(coords, ms)
        for mcs in (5, 20, 60):
            for method in ("eom", "leaf"):
                full = hdbscan.HDBSCAN(
                    min_cluster_size=mcs,
                    min_samples=ms,
                    cluster_selection_method=method,
                ).fit(coords)
                np.testing.assert_array_equal(
                    _cut_tree(tree, mcs, method), full.labels_
                )
                checked += full.labels_.max() >= 1
    assert checked >= 6  # most settings find several groups: a real comparison


def test_the_search_on_two_cores_is_the_search_on_one(
    reduced_blobs, monkeypatch, caplog
):
    import clustering.cluster as cluster_module

    reduction, graph, _ = reduced_blobs
    monkeypatch.setattr(cluster_module, "SEARCH_SIDE_BY_SIDE_MIN", 10**9)
    alone = fit_clusters(reduction.cluster_coords, graph=graph)
    monkeypatch.setattr(cluster_module, "SEARCH_SIDE_BY_SIDE_MIN", 0)
    with caplog.at_level("WARNING", logger="clustering.parallel"):
        both = fit_clusters(reduction.cluster_coords, graph=graph)
    assert "failed" not in caplog.text  # the child did its half
    assert both.search == alone.search and len(both.search) > 10
    np.testing.assert_array_equal(both.labels, alone.labels)
    assert (both.min_cluster_size, both.min_samples, both.method) == (
        alone.min_cluster_size,
        alone.min_samples,
        alone.method,
    )


def test_candidate_grid_scales_with_the_data():
    small = candidate_grid(200)
    large = candidate_grid(5000)
    assert min(c for c, _ in small) == 5 and max(c for c, _ in small) <= 50
    assert max(c for c, _ in large) == 400
    assert all(s <= c for c, s in small + large)


def test_stable_groups_score_high_and_random_labels_low(reduced_blobs):
    reduction, graph, truth = reduced_blobs
    clusters = fit_clusters(reduction.cluster_coords, graph=graph)

    def refit(positions):
        return refit_labels(reduction.cluster_coords, clusters, positions)

    stability = group_stability(clusters.labels, refit, n_repeats=3)
    assert stability.shape == (5,) and (stability > 0.9).all()
    shuffled = np.random.default_rng(0).permutation(clusters.labels)
    assert (group_stability(shuffled, refit, n_repeats=2) < 0.5).all()


def test_best_jaccard_counts_overlap_over_union():
    scores = best_jaccard(np.array([0, 0, 0, 1, 1]), np.array([3, 3, -1, 4, 4]))
    np.testing.assert_allclose(scores, [2 / 3, 1.0])


def test_run_wide_scores_are_defined_and_rank_the_truth_first(reduced_blobs):
    reduction, _, truth = reduced_blobs
    coords = reduction.cluster_coords
    shuffled = np.random.default_rng(0).permutation(truth)
    assert silhouette(coords, truth) > 0.5 > silhouette(coords, shuffled)
    assert relative_validity(coords, truth) > relative_validity(coords, shuffled)
    assert silhouette(coords, np.zeros(len(truth), int)) is None


def test_label_agreement_gives_scores_and_a_confusion_table():
    truth = np.array(["a", "a", "a", "b", "b", "c"])
    labels = np.array([0, 0, -1, 1, 1, 1])
    agreement = label_agreement(truth, labels)
    assert agreement["homogeneity"] < 1 and 0 < agreement["ari"] < 1
    assert agreement["confusion"] == {-1: {"a": 1}, 0: {"a": 2}, 1: {"b": 2, "c": 1}}
    assert label_agreement(truth, np.array([5, 5, 5, 2, 2, 7]))["nmi"] == 1.0


def test_levels_nest_fine_in_main_in_coarse(reduced_blobs):
    from clustering.levels import nesting, tree_levels

    reduction, graph, truth = reduced_blobs
    # Small groups, so the tree has leaves below the main groups.
    clusters = fit_clusters(
        reduction.cluster_coords, min_cluster_size=10, min_samples=5, method="eom"
    )
    labels = clusters.labels
    levels = tree_levels(clusters.clusterer, labels)
    inside = levels["fine"] >= 0
    assert inside.any()
    for fine_id, main in levels["fine_of"].items():
        assert set(labels[levels["fine"] == fine_id]) == {main}
    assert ((levels["coarse"] >= 0) == (labels >= 0)).all()
    for group in range(clusters.n_clusters):
        assert len(set(levels["coarse"][labels == group])) == 1
    n_coarse = len(set(levels["coarse_of"].values()))
    assert 1 <= n_coarse <= clusters.n_clusters <= len(levels["fine_of"])

    summary = nesting(levels, labels, np.ones(len(labels), int))
    assert sum(c["size"] for c in summary) == (labels >= 0).sum()
    assert sorted(g["cluster_id"] for c in summary for g in c["groups"]) == list(
        range(clusters.n_clusters)
    )


def test_assign_noise_moves_rows_by_their_neighbours(reduced_blobs):
    from clustering.cluster import assign_noise

    reduction, _, truth = reduced_blobs
    knn = reduction.knn_indices
    labels = truth.copy()
    hidden = np.arange(0, len(truth), 7)
    labels[hidden] = -1

    moved, strengths = assign_noise(labels, knn, 0.5)
    assert (moved[hidden] == truth[hidden]).mean() > 0.95
    assert (strengths[hidden] >= 0.5).all() and (strengths[labels >= 0] == 0).all()
    kept = labels >= 0
    assert (moved[kept] == labels[kept]).all()

    strict, _ = assign_noise(labels, knn, 1.0)
    assert (strict >= 0).sum() <= (moved >= 0).sum()
    none, _ = assign_noise(np.full(len(truth), -1), knn, 0.0)
    assert (none == -1).all()
