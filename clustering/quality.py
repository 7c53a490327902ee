"""Quality figures of a grouping: label-free scores, stability, label agreement.

Label ``-1`` means unclustered everywhere. Label-free scores (graph modularity,
DBCV-style relative validity, silhouette) judge a grouping from the data alone;
stability says how often each group comes back when the clustering is repeated
on subsamples; label agreement compares a grouping with a known labelling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from scipy import sparse

logger = logging.getLogger(__name__)

#: A group whose mean best Jaccard overlap over the repeats is below this is
#: flagged unstable (Hennig's rule of thumb: below 0.5 a group "dissolves").
UNSTABLE_BELOW = 0.5


def knn_graph(knn_indices: np.ndarray) -> sparse.csr_matrix:
    """Symmetric 0/1 adjacency of a nearest-neighbour graph.

    Parameters
    ----------
    knn_indices : numpy.ndarray of int, shape (n_samples, k)
        Row ``i`` lists the neighbours of ``i``; ``i`` itself and ``-1`` are
        ignored.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_samples, n_samples)

    Examples
    --------
    >>> knn_graph(np.array([[0, 1], [1, 0], [2, 1]])).toarray().astype(int)
    array([[0, 1, 0],
           [1, 0, 1],
           [0, 1, 0]])
    """
    n, k = knn_indices.shape
    rows = np.repeat(np.arange(n), k)
    cols = knn_indices.ravel()
    keep = (cols >= 0) & (cols != rows)
    graph = sparse.csr_matrix(
        (np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n, n)
    )
    return ((graph + graph.T) > 0).astype(np.float64).tocsr()


def modularity(graph: sparse.spmatrix, labels: np.ndarray) -> float:
    """Newman's modularity of ``labels`` on ``graph``, unclustered as singletons.

    Counting each unclustered text as a group of its own means leaving texts out
    earns nothing, and merging unrelated groups costs: the score rewards groups
    that hold most of their texts' neighbours, without being told their number.

    Parameters
    ----------
    graph : scipy.sparse matrix of shape (n_samples, n_samples)
        Symmetric, non-negative edge weights.
    labels : numpy.ndarray of int, shape (n_samples,)
        Group per text; ``-1`` is unclustered.

    Returns
    -------
    float
        In [-0.5, 1]; higher is better.

    Examples
    --------
    >>> ring = knn_graph(np.array([[1], [0], [3], [2]]))
    >>> round(modularity(ring, np.array([0, 0, 1, 1])), 2)
    0.5
    """
    labels = np.asarray(labels).copy()
    noise = labels < 0
    labels[noise] = labels.max(initial=-1) + 1 + np.arange(noise.sum())
    n, k = len(labels), int(labels.max(initial=-1)) + 1
    members = sparse.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, k))
    total = graph.sum()
    if total == 0:
        return 0.0
    inside = (members.T @ graph @ members).diagonal().sum()
    degree = members.T @ np.asarray(graph.sum(axis=1)).ravel()
    return float(inside / total - ((degree / total) ** 2).sum())


def relative_validity(coords: np.ndarray, labels: np.ndarray) -> float | None:
    """DBCV-style relative validity of ``labels`` on ``coords``, in [-1, 1].

    Computed on the minimum spanning tree of the mutual reachability graph, as
    HDBSCAN's ``relative_validity_`` (a fast approximation of DBCV); unclustered
    texts count against the score. ``None`` with fewer than two groups.
    """
    import hdbscan

    n_groups = int(labels.max(initial=-1)) + 1
    if n_groups < 2:
        return None
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=2, min_samples=5, gen_min_span_tree=True
    ).fit(coords)
    clusterer.labels_ = np.asarray(labels)
    clusterer._relative_validity = None
    return float(clusterer.relative_validity_)


def silhouette(
    coords: np.ndarray, labels: np.ndarray, random_state: int = 0
) -> float | None:
    """Mean silhouette of the clustered texts on ``coords`` (euclidean).

    At most 3,000 texts are sampled. ``None`` with fewer than two groups.
    """
    from sklearn.metrics import silhouette_score

    clustered = labels >= 0
    if len(np.unique(labels[clustered])) < 2:
        return None
    return float(
        silhouette_score(
            coords[clustered],
            labels[clustered],
            sample_size=min(3000, int(clustered.sum())),
            random_state=random_state,
        )
    )


def best_jaccard(labels: np.ndarray, other: np.ndarray) -> np.ndarray:
    """For each group of ``labels``, its best Jaccard overlap with a group of
    ``other`` (same texts, same order).

    Returns
    -------
    numpy.ndarray of float, shape (n_groups,)

    Examples
    --------
    >>> best_jaccard(np.array([0, 0, 1, 1, -1]), np.array([5, 5, 5, -1, -1]))
    array([0.66666667, 0.33333333])
    """
    n_groups = int(labels.max(initial=-1)) + 1
    scores = np.zeros(n_groups)
    for group in range(n_groups):
        mine = labels == group
        for found in np.unique(other[mine & (other >= 0)]):
            theirs = other == found
            overlap = (mine & theirs).sum() / (mine | theirs).sum()
            scores[group] = max(scores[group], overlap)
    return scores


def group_stability(
    labels: np.ndarray,
    refit: Callable[[np.ndarray], np.ndarray],
    n_repeats: int = 3,
    fraction: float = 0.8,
    random_state: int = 0,
) -> np.ndarray:
    """How often each group comes back when the clustering is repeated.

    Each repeat clusters a random ``fraction`` of the texts again; a group scores
    its best Jaccard overlap with a group of the repeat (on the texts both
    contain), averaged over the repeats.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n_samples,)
        The grouping to judge; ``-1`` is unclustered.
    refit : callable
        ``refit(positions)`` clusters the texts at ``positions`` and returns
        their labels.
    n_repeats : int, default=3
    fraction : float, default=0.8
    random_state : int, default=0

    Returns
    -------
    numpy.ndarray of float, shape (n_groups,)
        In [0, 1]; below :data:`UNSTABLE_BELOW` a group is flagged unstable.
    """
    n_groups = int(labels.max(initial=-1)) + 1
    n = len(labels)
    if n_groups == 0 or n_repeats == 0 or n < 4:
        return np.full(n_groups, np.nan)
    rng = np.random.default_rng(random_state)
    total = np.zeros(n_groups)
    for _ in range(n_repeats):
        positions = np.sort(rng.choice(n, max(2, int(fraction * n)), replace=False))
        total += best_jaccard(labels[positions], refit(positions))
    return total / n_repeats


def label_agreement(truth: np.ndarray, labels: np.ndarray) -> dict:
    """Agreement of ``labels`` (``-1`` counted as one more group) with ``truth``.

    Returns
    -------
    dict
        ``ari``, ``nmi``, ``homogeneity``, ``completeness`` and ``confusion``
        (``{group: {true label: rows}}``, unclustered under ``-1``).

    Examples
    --------
    >>> label_agreement(np.array(["a", "a", "b"]), np.array([0, 0, 1]))["ari"]
    1.0
    """
    import pandas as pd
    from sklearn import metrics

    truth = np.asarray(truth).astype(str)
    table = pd.crosstab(pd.Series(labels, name="group"), pd.Series(truth))
    return {
        "ari": round(float(metrics.adjusted_rand_score(truth, labels)), 4),
        "nmi": round(float(metrics.normalized_mutual_info_score(truth, labels)), 4),
        "homogeneity": round(float(metrics.homogeneity_score(truth, labels)), 4),
        "completeness": round(float(metrics.completeness_score(truth, labels)), 4),
        "confusion": {
            int(group): {str(k): int(v) for k, v in row.items() if v}
            for group, row in table.iterrows()
        },
    }
