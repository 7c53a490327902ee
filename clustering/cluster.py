"""Cluster stage: HDBSCAN on the reduced coordinates.

Label ``-1`` means unclustered (noise): such rows are kept and shown to users as
"unclustered", never dropped. Group ids are renumbered by a stable rule: larger
groups first, ties broken by the group's first member in canonical order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from clustering.cache import ResultCache

logger = logging.getLogger(__name__)


def default_min_cluster_size(n_samples: int) -> int:
    """Smallest group size tried first when the user gives none.

    About 2% of the distinct texts, at least 5, but never more than a quarter of
    them (and at least 2), so small inputs can still form groups. Used when no
    neighbour graph is at hand to search with.

    Examples
    --------
    >>> [default_min_cluster_size(n) for n in (5, 24, 2000, 5000)]
    [2, 5, 40, 100]
    """
    return max(2, min(max(5, round(n_samples / 50)), n_samples // 4))


def default_min_samples(min_cluster_size: int) -> int:
    """HDBSCAN's ``min_samples`` used when the user gives none: ``min(mcs, 10)``."""
    return min(min_cluster_size, 10)


@dataclass
class Clusters:
    """Groups of the distinct texts.

    Attributes
    ----------
    labels : numpy.ndarray of int, shape (n_samples,)
        Group id per distinct text; ``-1`` is unclustered.
    strengths : numpy.ndarray of float, shape (n_samples,)
        Membership strength in [0, 1]; ``0`` for unclustered texts.
    min_cluster_size, min_samples : int
        Values used (given or automatic).
    notes : list of str
        What was adjusted to fit the data.
    clusterer : hdbscan.HDBSCAN or None
        The fitted clusterer, when HDBSCAN ran.
    method : str
        Cluster selection used (``"eom"`` or ``"leaf"``).
    search : list of dict
        The candidates tried and their scores (see :func:`search_parameters`);
        empty when nothing was searched.
    """

    labels: np.ndarray
    strengths: np.ndarray
    min_cluster_size: int
    min_samples: int
    notes: list[str] = field(default_factory=list)
    clusterer: object | None = None
    method: str = "eom"
    search: list[dict] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def renumber(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Number groups by size (weighted by ``weights``), largest first.

    Ties go to the group whose first member comes first. ``-1`` stays ``-1``.

    Examples
    --------
    >>> renumber(np.array([3, 3, -1, 0, 5, 5, 5]))
    array([ 1,  1, -1,  2,  0,  0,  0])
    """
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights)
    groups = [g for g in np.unique(labels) if g >= 0]
    first = {g: int(np.argmax(labels == g)) for g in groups}
    size = {g: float(weights[labels == g].sum()) for g in groups}
    order = sorted(groups, key=lambda g: (-size[g], first[g]))
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping.get(g, -1) for g in labels], dtype=np.int64)


#: ``min_cluster_size`` candidates of the search, as shares of the distinct texts.
SIZE_FRACTIONS = (0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.08)
#: ``min_samples`` candidates of the search (those above the size are dropped).
SAMPLES_GRID = (1, 2, 5, 10, 20)
METHODS = ("auto", "eom", "leaf")
#: From this many distinct texts, the search runs on two cores (see
#: :mod:`clustering.parallel`).
SEARCH_SIDE_BY_SIDE_MIN = 5_000
#: Bump when the search's scoring changes, so cached searches are not reused.
SEARCH_VERSION = 1
#: Below this many distinct texts the search is skipped: modularity cannot tell
#: a few tiny chance groups from real ones, so the size-based defaults are used.
SEARCH_MIN_TEXTS = 100


def candidate_grid(
    n_samples: int, min_cluster_size: int | None = None, min_samples: int | None = None
) -> list[tuple[int, int]]:
    """``(min_cluster_size, min_samples)`` pairs the search tries.

    A value the user gave is kept fixed; the other is searched.

    Examples
    --------
    >>> candidate_grid(2000, min_samples=5)[:3]
    [(10, 5), (15, 5), (20, 5)]
    """
    cap = max(2, n_samples // 4)
    sizes = (
        [min_cluster_size]
        if min_cluster_size
        else sorted({min(cap, max(5, round(n_samples * f))) for f in SIZE_FRACTIONS})
    )
    samples = [min_samples] if min_samples else list(SAMPLES_GRID)
    pairs = [(c, s) for c in sizes for s in samples if s <= c and s < n_samples]
    return pairs or [(sizes[0], min(sizes[0], n_samples - 1))]


def search_parameters(
    coords: np.ndarray,
    graph,
    counts: np.ndarray,
    pairs: list[tuple[int, int]],
    methods: tuple[str, ...] = ("eom", "leaf"),
    cache: ResultCache | None = None,
    cache_key: str | None = None,
) -> tuple[dict, list[dict]]:
    """Fit HDBSCAN for each candidate and score it by graph modularity.

    Every pair is fitted with the first method; the other methods are tried on
    the best pair only. The score is :func:`clustering.quality.modularity` of
    the grouping on the shared neighbour graph, with unclustered texts as
    singletons: it needs no labels and rewards groups that keep their texts'
    neighbours, so it punishes both merged blobs and needless unclustered rows.

    With a ``cache`` and the ``cache_key`` of the reduction, the table of a
    search already run on the same coordinates and candidates is read back, and
    only the winner is fitted.

    Returns
    -------
    best : dict
        The winning candidate, with its fitted ``clusterer`` and ``labels``.
    table : list of dict
        One entry per candidate: ``min_cluster_size``, ``min_samples``,
        ``method``, ``n_groups``, ``unclustered_share``, ``score``, ``chosen``.
    """
    from clustering.quality import modularity

    record_key = None
    if cache is not None and cache_key is not None:
        record_key = cache.record_key(cache_key, pairs, methods, SEARCH_VERSION)
        table = cache.get_record(record_key)
        if _is_search_table(table):
            logger.info("parameter search read from the cache")
            return _fit_winner(coords, counts, table), table

    # HDBSCAN's hierarchy depends on min_samples only: build it once per value and
    # cut it for every min_cluster_size, instead of one full fit per candidate.
    def attempt(tree: np.ndarray, mcs: int, ms: int, method: str) -> dict:
        labels = renumber(_cut_tree(tree, mcs, method), counts)
        return {
            "min_cluster_size": mcs,
            "min_samples": ms,
            "method": method,
            "n_groups": int(labels.max(initial=-1)) + 1,
            "unclustered_share": round(float((labels < 0).mean()), 4),
            "score": round(modularity(graph, labels), 4),
        }

    def search(samples: list[int]) -> tuple[list[dict], list[dict]]:
        """First-method candidates of these min_samples values, then the other
        methods on the best of them."""
        trees = {ms: _single_linkage(coords, ms) for ms in samples}
        tried = [
            attempt(trees[ms], mcs, ms, methods[0]) for mcs, ms in pairs if ms in trees
        ]
        if not tried:
            return [], []
        best = max(tried, key=lambda c: c["score"])
        tree = trees[best["min_samples"]]
        return tried, [
            attempt(tree, best["min_cluster_size"], best["min_samples"], method)
            for method in methods[1:]
        ]

    # Half of the min_samples values (the slowest, 1, among them) on the other
    # core when the data is large enough for that to pay.
    samples = sorted({ms for _, ms in pairs})
    there = samples[::3] if len(coords) >= SEARCH_SIDE_BY_SIDE_MIN else []
    here = [ms for ms in samples if ms not in there]
    if there:
        from clustering.parallel import side_by_side

        (mine, my_more), (theirs, their_more) = side_by_side(
            lambda: search(here), lambda: search(there)
        )
    else:
        (mine, my_more), (theirs, their_more) = search(here), ([], [])
    # Every candidate in the order of ``pairs``, then the other methods on the
    # best one, whichever side found it.
    order = {(mcs, ms): i for i, (mcs, ms) in enumerate(pairs)}
    tried = sorted(
        mine + theirs, key=lambda c: order[c["min_cluster_size"], c["min_samples"]]
    )
    best = max(tried, key=lambda c: c["score"])
    tried += my_more if best["min_samples"] in here else their_more
    best = max(tried, key=lambda c: c["score"])
    table = [c | {"chosen": c is best} for c in tried]
    if record_key is not None:
        cache.put_record(record_key, table)
    return _fit_winner(coords, counts, table), table


def _is_search_table(table: object) -> bool:
    return (
        isinstance(table, list)
        and all(isinstance(c, dict) for c in table)
        and sum(bool(c.get("chosen")) for c in table) == 1
    )


def _fit_winner(coords: np.ndarray, counts: np.ndarray, table: list[dict]) -> dict:
    """The chosen candidate, fitted in full (prediction data for new rows)."""
    best = next(dict(c) for c in table if c["chosen"])
    best["clusterer"], best["labels"] = _hdbscan(
        coords, best["min_cluster_size"], best["min_samples"], counts, best["method"]
    )
    return best


def fit_clusters(
    coords: np.ndarray,
    counts: np.ndarray | None = None,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    method: str = "auto",
    graph=None,
    cache: ResultCache | None = None,
    cache_key: str | None = None,
) -> Clusters:
    """Find dense groups in ``coords`` with HDBSCAN.

    With a neighbour ``graph`` and at least :data:`SEARCH_MIN_TEXTS` texts, the
    values not given by the user are chosen by :func:`search_parameters`;
    otherwise the size-based defaults are used.

    Parameters
    ----------
    coords : numpy.ndarray of shape (n_samples, n_dims)
        Reduced coordinates of the distinct texts.
    counts : numpy.ndarray of int, shape (n_samples,), optional
        Rows holding each distinct text; used to order groups by row count and to
        decide whether a single distinct text repeated forms a group.
    min_cluster_size : int or None, default=None
        ``None`` searches it (or uses :func:`default_min_cluster_size`).
    min_samples : int or None, default=None
        ``None`` searches it (or uses :func:`default_min_samples`).
    method : {"auto", "eom", "leaf"}, default="auto"
        HDBSCAN's cluster selection; ``"auto"`` lets the search choose.
    graph : scipy.sparse matrix of shape (n_samples, n_samples), optional
        The shared neighbour graph (see :func:`clustering.quality.knn_graph`).
    cache, cache_key : ResultCache and str, optional
        Where a finished search is kept, and the key of the reduction that gave
        ``coords`` and ``graph`` (see :func:`search_parameters`).

    Returns
    -------
    Clusters
    """
    n = len(coords)
    counts = np.ones(n, dtype=np.int64) if counts is None else np.asarray(counts)
    mcs = min_cluster_size or default_min_cluster_size(n)
    ms = min_samples or default_min_samples(mcs)
    notes: list[str] = []

    # Degenerate inputs: too few distinct texts to estimate density. A text that
    # repeats forms a group of its own; a lone text stays unclustered.
    if n < 4:
        repeated = counts >= 2
        labels = renumber(np.where(repeated, np.arange(n), -1), counts)
        notes.append(
            f"{n} distinct text(s): too few to find groups by density, so each "
            "repeated text is its own group and the others are unclustered"
        )
        return Clusters(labels, repeated.astype(float), mcs, ms, notes)
    if n < mcs:
        notes.append(
            f"{n} distinct texts are fewer than min_cluster_size={mcs}; "
            "all are unclustered"
        )
        return Clusters(np.full(n, -1), np.zeros(n), mcs, ms, notes)

    # Search what the user left open, scored on the neighbour graph.
    methods = ("eom", "leaf") if method == "auto" else (method,)
    searching = (
        graph is not None
        and n >= SEARCH_MIN_TEXTS
        and (min_cluster_size is None or min_samples is None or method == "auto")
    )
    if searching:
        pairs = candidate_grid(n, min_cluster_size, min_samples)
        best, table = search_parameters(
            coords, graph, counts, pairs, methods, cache, cache_key
        )
        mcs, ms, chosen = best["min_cluster_size"], best["min_samples"], best["method"]
        clusterer, labels = best["clusterer"], best["labels"]
        notes.append(
            f"chose min_cluster_size={mcs}, min_samples={ms}, {chosen} selection "
            f"from {len(table)} candidates by neighbour-graph modularity"
        )
    else:
        if ms >= n:
            ms = n - 1
            notes.append(f"min_samples lowered to {ms} for {n} texts")
        chosen, table = methods[0], []
        clusterer, labels = _hdbscan(coords, mcs, ms, counts, chosen)

    strengths = np.where(labels >= 0, clusterer.probabilities_, 0.0)
    logger.info(
        "HDBSCAN(min_cluster_size=%d, min_samples=%d, %s): %d groups, %d unclustered",
        mcs,
        ms,
        chosen,
        labels.max() + 1,
        (labels < 0).sum(),
    )
    return Clusters(labels, strengths, mcs, ms, notes, clusterer, chosen, table)


def assign_noise(
    labels: np.ndarray, knn_indices: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Move unclustered texts to the group most of their neighbours are in.

    A text moves when the share of its nearest neighbours (in the shared graph)
    that belong to one group is at least ``threshold`` and above 0. Passes repeat
    while texts move, so a moved text can pull in its own unclustered neighbours.

    Parameters
    ----------
    labels : numpy.ndarray of int, shape (n_samples,)
        Group per text; ``-1`` is unclustered.
    knn_indices : numpy.ndarray of int, shape (n_samples, k)
        Neighbours of each text, itself first.
    threshold : float
        In [0, 1]; higher moves fewer texts.

    Returns
    -------
    labels : numpy.ndarray of int, shape (n_samples,)
        The new groups.
    strengths : numpy.ndarray of float, shape (n_samples,)
        For a moved text, the share of its neighbours in its new group; else 0.

    Examples
    --------
    >>> knn = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0], [3, 2, 1]])
    >>> assign_noise(np.array([0, 0, -1, -1]), knn, 0.5)[0].tolist()
    [0, 0, 0, 0]
    """
    labels = np.asarray(labels).copy()
    strengths = np.zeros(len(labels))
    neighbours = knn_indices[:, 1:]
    for _ in range(len(labels)):
        noise = np.flatnonzero(labels < 0)
        found = labels[neighbours[noise]]
        moved = labels.copy()
        for i, row in zip(noise, found, strict=True):
            votes = np.bincount(row[row >= 0], minlength=1)
            share = votes.max() / max(len(row), 1)
            if share > 0 and share >= threshold:
                moved[i], strengths[i] = int(votes.argmax()), share
        if (moved == labels).all():
            break
        labels = moved
    return labels, strengths


def refit_labels(
    coords: np.ndarray, clusters: Clusters, positions: np.ndarray
) -> np.ndarray:
    """Cluster the texts at ``positions`` again with the values ``clusters`` used.

    Returns
    -------
    numpy.ndarray of int, shape (len(positions),)
        Labels of those texts; ``-1`` is unclustered.
    """
    ms = min(clusters.min_samples, len(positions) - 1)
    if clusters.clusterer is None or len(positions) <= clusters.min_cluster_size:
        return np.full(len(positions), -1)
    counts = np.ones(len(positions), dtype=np.int64)
    return _hdbscan(
        coords[positions], clusters.min_cluster_size, ms, counts, clusters.method
    )[1]


def _single_linkage(coords: np.ndarray, ms: int) -> np.ndarray:
    """HDBSCAN's single-linkage tree of ``coords`` for ``min_samples=ms``."""
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=2, min_samples=ms, core_dist_n_jobs=1
    ).fit(coords)
    return clusterer.single_linkage_tree_.to_numpy()


def _cut_tree(tree: np.ndarray, mcs: int, method: str) -> np.ndarray:
    """The labels HDBSCAN gives for ``min_cluster_size=mcs`` on a built tree."""
    from hdbscan.hdbscan_ import _tree_to_labels

    return _tree_to_labels(None, tree, mcs, method)[0]


def _hdbscan(
    coords: np.ndarray, mcs: int, ms: int, counts: np.ndarray, method: str = "eom"
):
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method=method,
        prediction_data=True,
        # In-process: worker processes cost more to start than they save here.
        core_dist_n_jobs=1,
    )
    return clusterer, renumber(clusterer.fit_predict(coords), counts)
