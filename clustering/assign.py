"""Place new texts in a fitted model: UMAP's transform and HDBSCAN's prediction.

Everything a fitted model needs to place new rows is kept in :class:`ModelState`, as
plain numbers and arrays. It can be saved without pickle (see
:mod:`clustering.persist`) and rebuilt on another machine without running code from
the model folder.

How a new text is placed:

1. Reduce. Its unit vector gets its ``n_neighbors`` nearest fitted texts by exact
   cosine distance. From them, the same steps as ``umap.UMAP.transform`` give its
   coordinates in both fitted reductions: fuzzy membership weights, a weighted mean
   of the neighbours' positions, then a short optimisation with the fitted points
   held still. The only difference from UMAP's own transform is the exact
   neighbour search, where UMAP queries its approximate index; it needs no index
   object, so nothing has to be unpickled.
2. Cluster. ``hdbscan.approximate_predict`` finds the fitted group it would join
   (or ``-1``) and a strength in [0, 1], from the condensed tree of the fit. A row
   far from every group comes back unclustered (``-1``).
3. A text the model was fitted on keeps its fitted group and strength, as identical
   texts always share a group within a run.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

from clustering.reduce import UmapState, umap_transform

logger = logging.getLogger(__name__)

#: Structured dtype of HDBSCAN's condensed tree.
CONDENSED_TREE_DTYPE = np.dtype(
    [
        ("parent", np.int64),
        ("child", np.int64),
        ("lambda_val", np.float64),
        ("child_size", np.int64),
    ]
)

#: Neighbours compared at a time, to bound memory for big inputs.
_CHUNK = 2048


@dataclass
class ModelState:
    """A fitted model reduced to numbers: enough to place new texts.

    Attributes
    ----------
    texts : list of str, length n_fitted
        Distinct fitted texts, sorted.
    vectors : numpy.ndarray of shape (n_fitted, dim)
        Their unit vectors.
    labels : numpy.ndarray of int, shape (n_fitted,)
        Group per fitted text (``-1`` unclustered), in the model's numbering.
    strengths : numpy.ndarray of float, shape (n_fitted,)
        Membership strength per fitted text.
    cluster_coords : numpy.ndarray of shape (n_fitted, n_components)
        Fitted coordinates that were clustered.
    map_coords : numpy.ndarray of shape (n_fitted, 2)
        Fitted map coordinates.
    cluster_umap, map_umap : UmapState or None
        The two reductions; ``None`` when UMAP was not run (tiny inputs).
    condensed_tree : numpy.ndarray of CONDENSED_TREE_DTYPE or None
        HDBSCAN's condensed tree; ``None`` when HDBSCAN was not run.
    hdbscan_labels : numpy.ndarray of int, shape (n_fitted,)
        HDBSCAN's own labels before renumbering (``-1`` noise).
    min_samples, min_cluster_size : int
        HDBSCAN's values in the fit.
    """

    texts: list[str]
    vectors: np.ndarray
    labels: np.ndarray
    strengths: np.ndarray
    cluster_coords: np.ndarray
    map_coords: np.ndarray
    cluster_umap: UmapState | None
    map_umap: UmapState | None
    condensed_tree: np.ndarray | None
    hdbscan_labels: np.ndarray
    min_samples: int
    min_cluster_size: int
    _index: dict = field(default_factory=dict, repr=False)
    _predictor: object = field(default=None, repr=False)

    @property
    def text_index(self) -> dict[str, int]:
        """Position of each fitted text."""
        if not self._index:
            self._index.update({t: i for i, t in enumerate(self.texts)})
        return self._index

    def label_map(self) -> dict[int, int]:
        """HDBSCAN's label to the model's group id, from the fitted texts."""
        pairs = {}
        for raw, ours in zip(self.hdbscan_labels, self.labels, strict=True):
            if raw >= 0 and ours >= 0:
                pairs.setdefault(int(raw), int(ours))
        return pairs


def state_from_fit(
    texts: list[str],
    vectors: np.ndarray,
    reduction: object,
    clusters: object,
) -> ModelState:
    """Take the state of a fit from its :class:`Reduction` and :class:`Clusters`."""
    clusterer = clusters.clusterer
    if clusterer is not None:
        tree = np.asarray(clusterer.condensed_tree_._raw_tree).astype(
            CONDENSED_TREE_DTYPE
        )
        raw_labels = np.asarray(clusterer.labels_, dtype=np.int64)
    else:
        tree = None
        raw_labels = np.full(len(texts), -1, dtype=np.int64)
    return ModelState(
        texts=list(texts),
        vectors=np.asarray(vectors, dtype=np.float32),
        labels=np.asarray(clusters.labels, dtype=np.int64),
        strengths=np.asarray(clusters.strengths, dtype=np.float64),
        cluster_coords=np.asarray(reduction.cluster_coords, dtype=np.float64),
        map_coords=np.asarray(reduction.map_coords, dtype=np.float64),
        cluster_umap=reduction.cluster_umap,
        map_umap=reduction.map_umap,
        condensed_tree=tree,
        hdbscan_labels=raw_labels,
        min_samples=int(clusters.min_samples),
        min_cluster_size=int(clusters.min_cluster_size),
    )


def nearest_fitted(
    vectors: np.ndarray, fitted: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine neighbours of unit ``vectors`` among unit ``fitted`` vectors.

    Returns
    -------
    indices : numpy.ndarray of int32, shape (n_samples, k)
        Nearest first; ties go to the lower index.
    distances : numpy.ndarray of float32, shape (n_samples, k)
        Cosine distances, ``1 - cos``.
    """
    k = min(k, len(fitted))
    indices = np.empty((len(vectors), k), dtype=np.int32)
    distances = np.empty((len(vectors), k), dtype=np.float32)
    for start in range(0, len(vectors), _CHUNK):
        block = vectors[start : start + _CHUNK].astype(np.float64)
        dist = np.clip(1.0 - block @ fitted.astype(np.float64).T, 0.0, 2.0)
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        indices[start : start + len(block)] = order
        distances[start : start + len(block)] = np.take_along_axis(dist, order, 1)
    return indices, distances


#: Share of fitted texts whose nearest fitted neighbour is closer than the distance
#: beyond which a new text counts as far from every group.
FAR_QUANTILE = 0.95
_FAR_SAMPLE = 1000


def far_distance(state: ModelState) -> float:
    """Cosine distance beyond which a new text is far from every fitted text.

    The :data:`FAR_QUANTILE` quantile of the fitted texts' distances to their own
    nearest other fitted text, measured on a seeded sample of at most 1,000 texts.
    """
    if len(state.vectors) < 2:
        return 2.0
    rng = np.random.default_rng(0)
    sample = rng.choice(
        len(state.vectors), min(_FAR_SAMPLE, len(state.vectors)), replace=False
    )
    _, distances = nearest_fitted(state.vectors[sample], state.vectors, 2)
    return float(np.quantile(distances[:, 1], FAR_QUANTILE))


def reduce_new(state: ModelState, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of new unit vectors in the cluster space and on the map.

    Parameters
    ----------
    state : ModelState
    vectors : numpy.ndarray of shape (n_samples, dim)

    Returns
    -------
    cluster_coords : numpy.ndarray of shape (n_samples, n_components)
    map_coords : numpy.ndarray of shape (n_samples, 2)
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if state.cluster_umap is None:
        # No UMAP in the fit (tiny input): the vectors are the cluster space, and
        # a new text sits on the map at its nearest fitted text.
        indices, _ = nearest_fitted(vectors, state.vectors, 1)
        return vectors.astype(np.float64), state.map_coords[indices[:, 0]]
    k = state.cluster_umap.n_neighbors
    indices, distances = nearest_fitted(vectors, state.vectors, k)
    cluster_coords = umap_transform(
        state.cluster_umap, state.cluster_coords, indices, distances
    )
    map_coords = umap_transform(state.map_umap, state.map_coords, indices, distances)
    return cluster_coords, map_coords


def _predictor(state: ModelState):
    """A stand-in for a fitted ``hdbscan.HDBSCAN``, rebuilt from arrays."""
    if state._predictor is None:
        from types import SimpleNamespace

        from hdbscan.plots import CondensedTree
        from hdbscan.prediction import PredictionData

        tree = CondensedTree(state.condensed_tree, state.hdbscan_labels)
        data = PredictionData(
            state.cluster_coords, tree, state.min_samples, tree_type="kdtree"
        )
        state._predictor = SimpleNamespace(
            prediction_data_=data,
            condensed_tree_=tree,
            min_samples=state.min_samples,
            min_cluster_size=state.min_cluster_size,
        )
    return state._predictor


def predict_groups(
    state: ModelState, cluster_coords: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Group and strength of new points in the cluster space.

    Returns
    -------
    labels : numpy.ndarray of int, shape (n_samples,)
        The model's group ids; ``-1`` for points far from every group.
    strengths : numpy.ndarray of float, shape (n_samples,)
        In [0, 1]; ``0`` for unclustered points.
    """
    n = len(cluster_coords)
    if state.condensed_tree is None or not (state.labels >= 0).any() or n == 0:
        return np.full(n, -1, dtype=np.int64), np.zeros(n)
    from hdbscan import approximate_predict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        raw, strengths = approximate_predict(_predictor(state), cluster_coords)
    mapping = state.label_map()
    labels = np.array([mapping.get(int(r), -1) for r in raw], dtype=np.int64)
    return labels, np.where(labels >= 0, strengths, 0.0)


@dataclass
class Placement:
    """Where new distinct texts went.

    Attributes
    ----------
    labels : numpy.ndarray of int, shape (n_samples,)
        Group id; ``-1`` is unclustered.
    strengths : numpy.ndarray of float, shape (n_samples,)
        Membership strength in [0, 1].
    cluster_coords : numpy.ndarray of shape (n_samples, n_components)
    map_coords : numpy.ndarray of shape (n_samples, 2)
    n_known : int
        Texts the model was fitted on, which kept their fitted group.
    """

    labels: np.ndarray
    strengths: np.ndarray
    cluster_coords: np.ndarray
    map_coords: np.ndarray
    n_known: int


def place_texts(
    state: ModelState,
    texts: list[str],
    vectors: np.ndarray,
    *,
    known_texts_keep_group: bool = True,
) -> Placement:
    """Place distinct new texts in a fitted model.

    Parameters
    ----------
    state : ModelState
    texts : list of str, length n_samples
        The texts (trimmed, as :func:`clustering.prepare.prepare_texts` keeps them).
    vectors : numpy.ndarray of shape (n_samples, dim)
        Their unit vectors.
    known_texts_keep_group : bool, default=True
        A text the model was fitted on keeps its fitted group, strength and
        position. ``False`` places every text by geometry alone (used to measure
        how well prediction agrees with the fit).

    Returns
    -------
    Placement
    """
    if len(texts) and vectors.shape[1] != state.vectors.shape[1]:
        from clustering.errors import InputError

        raise InputError(
            f"the vectors have {vectors.shape[1]} dimensions but the model was "
            f"fitted on {state.vectors.shape[1]}; use the model's sentence model"
        )
    cluster_coords, map_coords = reduce_new(state, vectors)
    labels, strengths = predict_groups(state, cluster_coords)

    # UMAP places every new point among the fitted ones, however unlike them it is;
    # a text farther from its nearest fitted text than almost any fitted text is
    # from its own nearest neighbour is far from every group.
    if len(texts):
        _, nearest = nearest_fitted(vectors, state.vectors, 1)
        far = nearest[:, 0] > far_distance(state)
        labels[far] = -1
        strengths[far] = 0.0
    known = np.array([state.text_index.get(t, -1) for t in texts], dtype=np.int64)
    if not known_texts_keep_group:
        known[:] = -1
    hit = known >= 0
    labels[hit] = state.labels[known[hit]]
    strengths[hit] = state.strengths[known[hit]]
    cluster_coords[hit] = state.cluster_coords[known[hit]]
    map_coords[hit] = state.map_coords[known[hit]]
    logger.info(
        "placed %d texts: %d known, %d in groups",
        len(texts),
        hit.sum(),
        (labels >= 0).sum(),
    )
    return Placement(labels, strengths, cluster_coords, map_coords, int(hit.sum()))
