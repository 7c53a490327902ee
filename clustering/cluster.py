"""Cluster stage: HDBSCAN on the reduced coordinates.

Label ``-1`` means unclustered (noise): such rows are kept and shown to users as
"unclustered", never dropped. Group ids are renumbered by a stable rule: larger
groups first, ties broken by the group's first member in canonical order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


def default_min_cluster_size(n_samples: int) -> int:
    """Smallest group size tried first when the user gives none.

    About 2% of the distinct texts, at least 5, but never more than a quarter of
    them (and at least 2), so small inputs can still form groups. If that size
    merges most texts into one group, :func:`fit_clusters` halves it.

    Examples
    --------
    >>> [default_min_cluster_size(n) for n in (5, 24, 2000, 5000)]
    [2, 5, 40, 100]
    """
    return max(2, min(max(5, round(n_samples / 50)), n_samples // 4))


#: A default-size run whose largest group holds more than this share of the
#: texts is taken as merged blobs, and the size is halved.
MERGED_SHARE = 0.5


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
    """

    labels: np.ndarray
    strengths: np.ndarray
    min_cluster_size: int
    min_samples: int
    notes: list[str] = field(default_factory=list)
    clusterer: object | None = None

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


def fit_clusters(
    coords: np.ndarray,
    counts: np.ndarray | None = None,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
) -> Clusters:
    """Find dense groups in ``coords`` with HDBSCAN.

    Parameters
    ----------
    coords : numpy.ndarray of shape (n_samples, n_dims)
        Reduced coordinates of the distinct texts.
    counts : numpy.ndarray of int, shape (n_samples,), optional
        Rows holding each distinct text; used to order groups by row count and to
        decide whether a single distinct text repeated forms a group.
    min_cluster_size : int or None, default=None
        ``None`` uses :func:`default_min_cluster_size`.
    min_samples : int or None, default=None
        ``None`` uses :func:`default_min_samples`.

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
    if ms >= n:
        ms = n - 1
        notes.append(f"min_samples lowered to {ms} for {n} texts")

    # Fit; with the automatic size, halve it while one group swallows most texts.
    clusterer, labels = _hdbscan(coords, mcs, ms, counts)
    while (
        min_cluster_size is None
        and mcs > 5
        and _largest_share(labels, counts) > (MERGED_SHARE)
    ):
        smaller = max(5, mcs // 2)
        notes.append(
            f"min_cluster_size {mcs} merged {_largest_share(labels, counts):.0%} of "
            f"the texts into one group; tried {smaller} instead"
        )
        mcs = smaller
        ms = min_samples or default_min_samples(mcs)
        clusterer, labels = _hdbscan(coords, mcs, ms, counts)
    # TODO: issue 7 replaces this guard with a search scored by a label-free
    # criterion (relative validity, stability across seeds).

    strengths = np.where(labels >= 0, clusterer.probabilities_, 0.0)
    logger.info(
        "HDBSCAN(min_cluster_size=%d, min_samples=%d): %d groups, %d unclustered",
        mcs,
        ms,
        labels.max() + 1,
        (labels < 0).sum(),
    )
    return Clusters(labels, strengths, mcs, ms, notes, clusterer)


def _hdbscan(coords: np.ndarray, mcs: int, ms: int, counts: np.ndarray):
    import hdbscan

    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        cluster_selection_method="eom",
        prediction_data=True,
    )
    return clusterer, renumber(clusterer.fit_predict(coords), counts)


def _largest_share(labels: np.ndarray, counts: np.ndarray) -> float:
    """Share of all rows held by the largest group (0 when there is none)."""
    if labels.max(initial=-1) < 0:
        return 0.0
    sizes = np.bincount(labels[labels >= 0], weights=counts[labels >= 0])
    return float(sizes.max() / counts.sum())
