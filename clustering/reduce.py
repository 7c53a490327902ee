"""Reduce stage: UMAP to a few dimensions for clustering and to 2 for the map.

The nearest-neighbour graph is computed once, exactly (blocked matrix products,
never an n x n matrix), and handed to both reductions, which are fitted side by
side when a second core is free. Above :data:`FIT_SAMPLE` distinct texts both are
fitted on a seeded sample and the other texts are placed with UMAP's transform, so
time and memory grow linearly with the data. Neighbours and dimensions are fitted
to small inputs, and every change is recorded in :attr:`Reduction.notes`.

Compile once: UMAP and pynndescent compile their numba kernels in every fresh
process, which costs more than the work itself on a few thousand texts. Before the
first reduction, :func:`enable_compile_cache` turns numba's on-disk cache on for
those kernels, so that cost is paid once per install (``clustering warmup``) rather
than once per run.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from clustering.cache import ResultCache

logger = logging.getLogger(__name__)

#: Fewer distinct texts than this are not reduced with UMAP (it needs a graph).
MIN_POINTS_FOR_UMAP = 4

#: Optimisation epochs of the clustering reduction (``None``: UMAP's own choice,
#: 500 up to 10,000 texts and 200 above) and of the map. Over seeds 42, 1 and 2 on
#: the three labelled files of benchmarks/quality.py, 200 epochs for clustering
#: cost 0.013 NMI on wordnet_core; the map is only looked at, so it gets 200.
CLUSTER_EPOCHS: int | None = None
MAP_EPOCHS: int | None = 200

#: Above this many distinct texts, both reductions are fitted on a seeded sample of
#: this size and the other texts are placed with UMAP's transform.
FIT_SAMPLE = 20_000

#: Candidates shortlisted beyond ``n_neighbors`` by a bfloat16 product before the
#: float32 similarities choose, from this many searched vectors on.
_KNN_SHORTLIST = 16
_KNN_SHORTLIST_FROM = 4096

#: From this many distinct texts, the map is fitted in a second process while the
#: clustering reduction is fitted (when the machine has a second core).
CONCURRENT_MIN = 2_000

#: Rows of the query block in the exact search (block x n_samples similarities).
_KNN_BLOCK = 1024

# Library modules whose numba kernels the reduction compiles.
_NUMBA_MODULES = (
    "umap.distances",
    "umap.sparse",
    "umap.utils",
    "umap.layouts",
    "umap.spectral",
    "umap.umap_",
    "pynndescent.distances",
    "pynndescent.sparse",
    "pynndescent.utils",
    "pynndescent.rp_trees",
    "pynndescent.pynndescent_",
)
_cache_enabled = False


def enable_compile_cache() -> int:
    """Let numba keep UMAP's and pynndescent's compiled kernels on disk.

    Many of their kernels are declared without numba's ``cache=True``, so every
    fresh process compiles them again (tens of seconds). This turns the on-disk
    cache on for those kernels; numba stores them beside the library, or in
    ``$NUMBA_CACHE_DIR`` when that is set, and recompiles when the library
    changes. Kernels numba cannot cache (they hold global arrays) are left as
    they are. Called once, on the first reduction.

    Returns
    -------
    int
        Number of kernels whose cache was turned on by this call.
    """
    global _cache_enabled
    if _cache_enabled:
        return 0
    import importlib

    from numba.core.registry import CPUDispatcher

    turned_on = 0
    for name in _NUMBA_MODULES:
        module = importlib.import_module(name)
        for kernel in list(vars(module).values()):
            if (
                isinstance(kernel, CPUDispatcher)
                and getattr(kernel, "__module__", None) == name
                and type(kernel._cache).__name__ == "NullCache"
            ):
                kernel.enable_caching()
                turned_on += 1
    _cache_enabled = True
    logger.info("numba on-disk cache turned on for %d kernels", turned_on)
    return turned_on


def exact_neighbors(
    vectors: np.ndarray, n_neighbors: int, among: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine nearest neighbours of unit vectors, block by block.

    Without ``among``, the neighbours are found among ``vectors`` themselves and
    each point is its own first neighbour (distance 0), as UMAP expects. Memory
    stays linear in the number of points: one block of similarities at a time.

    Parameters
    ----------
    vectors : numpy.ndarray of shape (n_samples, n_features)
        Unit-length vectors.
    n_neighbors : int
        Neighbours per point (the point itself included when ``among`` is None).
    among : numpy.ndarray of shape (n_fitted, n_features), optional
        Unit-length vectors to search instead of ``vectors``.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (n_samples, n_neighbors)
        Rows of ``among`` (or of ``vectors``).
    distances : numpy.ndarray of float32, shape (n_samples, n_neighbors)
        Cosine distances, ``1 - cosine similarity``, ascending.

    Examples
    --------
    >>> points = np.eye(3, dtype=np.float32)
    >>> exact_neighbors(points, 2)[0][:, 0].tolist()
    [0, 1, 2]
    """
    import torch

    query = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    data = (
        query
        if among is None
        else torch.from_numpy(np.ascontiguousarray(among, dtype=np.float32))
    )
    n = len(query)
    indices = np.empty((n, n_neighbors), dtype=np.int64)
    distances = np.empty((n, n_neighbors), dtype=np.float32)
    # On CPUs with native bfloat16, a bfloat16 product shortlists candidates
    # and their float32 similarities pick the neighbours among them.
    extra = _KNN_SHORTLIST if len(data) >= _KNN_SHORTLIST_FROM else 0
    if extra:
        from clustering.embed import native_bfloat16

        extra = extra if native_bfloat16() else 0
    shortlist = min(n_neighbors + extra, len(data))
    with torch.inference_mode():
        coarse = (query, data)
        if extra:
            coarse = (query.to(torch.bfloat16), data.to(torch.bfloat16))
        for start in range(0, n, _KNN_BLOCK):
            stop = min(start + _KNN_BLOCK, n)
            rows = torch.arange(stop - start)
            similar = coarse[0][start:stop] @ coarse[1].T
            if among is None:
                # The point itself comes first, even when another is identical.
                similar[rows, rows + start] = 2.0
            if extra:
                _, candidates = torch.topk(similar, shortlist, dim=1)
                similar = torch.einsum(
                    "bd,bcd->bc", query[start:stop], data[candidates]
                )
                if among is None:
                    similar[candidates == (rows + start)[:, None]] = 2.0
                values, order = torch.topk(similar, n_neighbors, dim=1)
                found = candidates.gather(1, order)
            else:
                values, found = torch.topk(similar, n_neighbors, dim=1)
            indices[start:stop] = found.numpy()
            distances[start:stop] = (1.0 - values).clamp_(min=0.0).numpy()
    if among is None:
        distances[:, 0] = 0.0
    return indices, distances


@dataclass
class UmapState:
    """What ``umap.UMAP.transform`` uses from a fitted reducer.

    Attributes
    ----------
    a, b : float
        The curve parameters UMAP derived from ``min_dist`` and ``spread``.
    n_neighbors : int
    initial_alpha : float
    repulsion_strength : float
    negative_sample_rate : int
    local_connectivity : float
    transform_seed : int
    """

    a: float
    b: float
    n_neighbors: int
    initial_alpha: float = 1.0
    repulsion_strength: float = 1.0
    negative_sample_rate: int = 5
    local_connectivity: float = 1.0
    transform_seed: int = 42

    @classmethod
    def from_reducer(cls, reducer: object) -> UmapState:
        """Read the state of a fitted ``umap.UMAP``."""
        return cls(
            a=float(reducer._a),
            b=float(reducer._b),
            n_neighbors=int(reducer._n_neighbors),
            initial_alpha=float(reducer._initial_alpha),
            repulsion_strength=float(reducer.repulsion_strength),
            negative_sample_rate=int(reducer.negative_sample_rate),
            local_connectivity=float(reducer.local_connectivity),
            transform_seed=int(reducer.transform_seed),
        )

    def scalars(self) -> dict:
        """The values as a JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "n_neighbors": self.n_neighbors,
            "initial_alpha": self.initial_alpha,
            "repulsion_strength": self.repulsion_strength,
            "negative_sample_rate": self.negative_sample_rate,
            "local_connectivity": self.local_connectivity,
            "transform_seed": self.transform_seed,
        }


@dataclass
class Reduction:
    """Both reductions of one set of vectors.

    Attributes
    ----------
    cluster_coords : numpy.ndarray of shape (n_samples, n_components_used)
        Coordinates that the cluster stage works on.
    map_coords : numpy.ndarray of shape (n_samples, 2)
        Coordinates for the 2-d map.
    n_neighbors_used : int
        Neighbours in the shared graph (``0`` when UMAP was not run).
    notes : list of str
        What was adjusted to fit the data, in plain words.
    cluster_umap, map_umap : UmapState or None
        What placing new rows needs from each fitted reducer (``None`` when
        UMAP was not run).
    knn_indices : numpy.ndarray of int, shape (n_samples, n_neighbors_used) or None
        The shared neighbour graph: row ``i`` lists the nearest texts of text
        ``i`` (itself first); ``None`` when UMAP was not run.
    cache_key : str or None
        Key of this reduction in the :class:`~clustering.cache.ResultCache`
        (``None`` when no cache was used); later stages key their results on it.
    """

    cluster_coords: np.ndarray
    map_coords: np.ndarray
    n_neighbors_used: int
    notes: list[str] = field(default_factory=list)
    cluster_umap: UmapState | None = None
    map_umap: UmapState | None = None
    knn_indices: np.ndarray | None = None
    cache_key: str | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything as arrays (no objects), for :class:`ResultCache`."""
        facts = {
            "n_neighbors_used": self.n_neighbors_used,
            "notes": self.notes,
            "cluster_umap": self.cluster_umap and self.cluster_umap.scalars(),
            "map_umap": self.map_umap and self.map_umap.scalars(),
        }
        arrays = {
            "cluster_coords": self.cluster_coords,
            "map_coords": self.map_coords,
            "facts": np.array(json.dumps(facts)),
        }
        if self.knn_indices is not None:
            arrays["knn_indices"] = self.knn_indices
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Reduction:
        """Rebuild what :meth:`to_arrays` gave."""
        facts = json.loads(str(arrays["facts"]))
        umaps = [
            UmapState(**facts[name]) if facts[name] else None
            for name in ("cluster_umap", "map_umap")
        ]
        return cls(
            cluster_coords=arrays["cluster_coords"],
            map_coords=arrays["map_coords"],
            n_neighbors_used=int(facts["n_neighbors_used"]),
            notes=list(facts["notes"]),
            cluster_umap=umaps[0],
            map_umap=umaps[1],
            knn_indices=arrays.get("knn_indices"),
        )


def _tiny_layout(vectors: np.ndarray) -> Reduction:
    """Coordinates for 1-3 points: the vectors themselves, and a PCA map."""
    n = len(vectors)
    map_coords = np.zeros((n, 2))
    if n > 1:
        from sklearn.decomposition import PCA

        projected = PCA(n_components=n - 1).fit_transform(vectors)
        map_coords[:, : projected.shape[1]] = projected
    note = f"{n} distinct text(s): too few for UMAP, so it was skipped"
    return Reduction(vectors.astype(np.float64), map_coords, 0, [note])


def reduce_vectors(
    vectors: np.ndarray,
    *,
    n_neighbors: int = 15,
    n_components: int = 5,
    random_state: int = 42,
    min_dist_map: float = 0.1,
    verbose: bool = False,
    cache: ResultCache | None = None,
    cache_key: str | None = None,
) -> Reduction:
    """Fit UMAP twice on one shared neighbour graph.

    Parameters
    ----------
    vectors : numpy.ndarray of shape (n_samples, n_features)
        Unit-length sentence vectors, one per distinct text.
    n_neighbors : int, default=15
        Neighbours in the graph; lowered to ``n_samples - 1`` for small inputs.
    n_components : int, default=5
        Dimensions of the clustering reduction (``min_dist=0``).
    random_state : int, default=42
        Seed of both reductions.
    min_dist_map : float, default=0.1
        ``min_dist`` of the 2-d map, which spreads points a little for reading.
    verbose : bool, default=False
        Let UMAP report its progress.
    cache : ResultCache or None, default=None
        Where finished reductions are kept: the same vectors with the same
        settings are read back instead of fitted again (same numbers).
    cache_key : str or None, default=None
        The :func:`reduction_key` of these vectors and settings, when the caller
        has it already (the vectors are hashed once).

    Returns
    -------
    Reduction
    """
    n = len(vectors)
    if n < MIN_POINTS_FOR_UMAP:
        return _tiny_layout(vectors)
    key = cache_key
    if cache is not None and key is None:
        key = reduction_key(
            vectors, n_neighbors, n_components, random_state, min_dist_map
        )
        stored = cache.get(key)
        if stored is not None:
            logger.info("reduction of %d vectors read from the cache", n)
            reduction = Reduction.from_arrays(stored)
            reduction.cache_key = key
            return reduction
    reduction = _fit_reduction(
        vectors, n_neighbors, n_components, random_state, min_dist_map, verbose
    )
    if cache is not None:
        cache.put(key, reduction.to_arrays())
        reduction.cache_key = key
    return reduction


def reduction_key(
    vectors: np.ndarray,
    n_neighbors: int = 15,
    n_components: int = 5,
    random_state: int = 42,
    min_dist_map: float = 0.1,
) -> str:
    """Key of a reduction in the :class:`~clustering.cache.ResultCache`: the
    exact vectors and everything else that decides its numbers."""
    from importlib.metadata import version

    from clustering.cache import ResultCache

    settings = {
        "n_neighbors": n_neighbors,
        "n_components": n_components,
        "random_state": random_state,
        "min_dist_map": min_dist_map,
        "cluster_epochs": CLUSTER_EPOCHS,
        "map_epochs": MAP_EPOCHS,
        "fit_sample": FIT_SAMPLE,
        "umap": version("umap-learn"),
        "pynndescent": version("pynndescent"),
        "layout": 1,  # bump when this module changes how it reduces
    }
    return ResultCache.key(vectors, settings)


def _fit_reduction(
    vectors: np.ndarray,
    n_neighbors: int,
    n_components: int,
    random_state: int,
    min_dist_map: float,
    verbose: bool,
) -> Reduction:
    """The reductions themselves (see :func:`reduce_vectors`)."""
    n = len(vectors)
    if n > FIT_SAMPLE:
        return _fit_on_sample(
            vectors,
            random_state,
            lambda sample: _fit_reduction(
                sample, n_neighbors, n_components, random_state, min_dist_map, verbose
            ),
        )

    from clustering.parallel import prefer_fork_safe_numba, side_by_side

    prefer_fork_safe_numba()
    enable_compile_cache()

    # Fit the graph's size to the data.
    notes: list[str] = []
    k = min(n_neighbors, n - 1)
    if k != n_neighbors:
        notes.append(f"n_neighbors lowered from {n_neighbors} to {k} for {n} texts")
    # Spectral initialisation needs a few more points than dimensions.
    init = "spectral" if n > n_components + 3 else "random"
    if init == "random":
        notes.append(f"UMAP started from a random layout for {n} texts")

    # One exact neighbour graph, shared by both reductions.
    knn = exact_neighbors(vectors, k)
    settings = {"n_neighbors": k, "init": init, "random_state": random_state}
    settings |= {"metric": "cosine", "precomputed_knn": knn, "verbose": verbose}
    cluster_job = dict(n_components=n_components, min_dist=0.0, n_epochs=CLUSTER_EPOCHS)
    map_job = dict(n_components=2, min_dist=min_dist_map, n_epochs=MAP_EPOCHS)
    if n >= CONCURRENT_MIN:
        # Seeded UMAP runs on one core: fit the map on the other meanwhile.
        (cluster_coords, cluster_umap), (map_coords, map_umap) = side_by_side(
            lambda: _fit_umap(vectors, settings | cluster_job),
            lambda: _fit_umap(vectors, settings | map_job),
        )
    else:
        cluster_coords, cluster_umap = _fit_umap(vectors, settings | cluster_job)
        map_coords, map_umap = _fit_umap(vectors, settings | map_job)

    logger.info("reduced %d vectors to %d and 2 dimensions", n, n_components)
    return Reduction(
        cluster_coords=cluster_coords,
        map_coords=map_coords,
        n_neighbors_used=k,
        notes=notes,
        cluster_umap=cluster_umap,
        map_umap=map_umap,
        knn_indices=np.asarray(knn[0]),
    )


def _fit_on_sample(
    vectors: np.ndarray, random_state: int, fit: Callable[[np.ndarray], Reduction]
) -> Reduction:
    """``fit`` both reductions on a seeded sample; place the other texts with
    their transform, from their nearest sampled texts.

    The neighbour lists of the other texts (used by the search and the quality
    figures) are their nearest sampled texts, after the text itself.
    """
    n = len(vectors)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, FIT_SAMPLE, replace=False))
    rest = np.setdiff1d(np.arange(n), sample)
    fitted = fit(vectors[sample])
    k = fitted.n_neighbors_used
    found, distances = exact_neighbors(vectors[rest], k, among=vectors[sample])
    cluster_coords = np.empty((n, fitted.cluster_coords.shape[1]))
    map_coords = np.empty((n, 2))
    cluster_coords[sample], map_coords[sample] = (
        fitted.cluster_coords,
        fitted.map_coords,
    )
    cluster_coords[rest] = umap_transform(
        fitted.cluster_umap, fitted.cluster_coords, found, distances
    )
    map_coords[rest] = umap_transform(
        fitted.map_umap, fitted.map_coords, found, distances
    )
    knn_indices = np.empty((n, k), dtype=np.int64)
    knn_indices[sample] = sample[fitted.knn_indices]
    knn_indices[rest, 0] = rest
    knn_indices[rest, 1:] = sample[found[:, : k - 1]]
    note = (
        f"UMAP was fitted on a seeded sample of {FIT_SAMPLE:,} of the {n:,} distinct "
        "texts; the others were placed with its transform"
    )
    logger.info(note)
    return Reduction(
        cluster_coords=cluster_coords,
        map_coords=map_coords,
        n_neighbors_used=k,
        notes=fitted.notes + [note],
        cluster_umap=fitted.cluster_umap,
        map_umap=fitted.map_umap,
        knn_indices=knn_indices,
    )


def _fit_umap(vectors: np.ndarray, settings: dict) -> tuple[np.ndarray, UmapState]:
    """One seeded UMAP fit: its coordinates and what placing new rows needs."""
    import umap

    reducer = umap.UMAP(**settings)
    with warnings.catch_warnings():
        # A seeded UMAP runs on one thread and says so; that is expected here.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # The exact graph has no search index; new rows are placed without one.
        warnings.filterwarnings(
            "ignore", message="precomputed_knn.2.", category=UserWarning
        )
        coords = reducer.fit_transform(vectors)
    return np.asarray(coords, dtype=np.float64), UmapState.from_reducer(reducer)


def umap_transform(
    state: UmapState,
    fitted_coords: np.ndarray,
    indices: np.ndarray,
    distances: np.ndarray,
) -> np.ndarray:
    """Coordinates of new points, from their fitted neighbours, as UMAP does.

    Follows ``umap.UMAP.transform`` (umap-learn 0.5) step by step, given the
    neighbours instead of querying a search index.

    Parameters
    ----------
    state : UmapState
    fitted_coords : numpy.ndarray of shape (n_fitted, n_components)
        The reduction's fitted coordinates; they stay where they are.
    indices, distances : numpy.ndarray of shape (n_samples, n_neighbors)
        Nearest fitted points and cosine distances, nearest first.

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_components)
    """
    import scipy.sparse

    enable_compile_cache()
    from umap.layouts import optimize_layout_euclidean
    from umap.umap_ import (
        compute_membership_strengths,
        make_epochs_per_sample,
        smooth_knn_dist,
    )

    n_new, n_fitted = len(indices), len(fitted_coords)
    k = indices.shape[1]

    # Fuzzy membership of each new point to its neighbours.
    sigmas, rhos = smooth_knn_dist(
        distances,
        float(k),
        local_connectivity=float(max(0.0, state.local_connectivity - 1.0)),
    )
    rows, cols, vals, _ = compute_membership_strengths(
        indices, distances, sigmas, rhos, bipartite=True
    )
    graph = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n_new, n_fitted))

    # Start at the weighted mean of the neighbours, then optimise.
    csr = graph.tocsr()
    csr.eliminate_zeros()
    fitted = fitted_coords.astype(np.float32, copy=True)
    embedding = _weighted_start(csr, fitted)
    n_epochs = 100 if n_new <= 10000 else 30
    graph.data[graph.data < (graph.data.max() / float(n_epochs))] = 0.0
    graph.eliminate_zeros()
    epochs_per_sample = make_epochs_per_sample(graph.data, n_epochs)
    rng = np.random.RandomState(state.transform_seed)
    rng_state = rng.randint(np.iinfo(np.int32).min, np.iinfo(np.int32).max, 3).astype(
        np.int64
    )
    embedding = optimize_layout_euclidean(
        embedding,
        fitted,
        graph.row,
        graph.col,
        n_epochs,
        n_fitted,
        epochs_per_sample,
        state.a,
        state.b,
        rng_state,
        state.repulsion_strength,
        state.initial_alpha / 4.0,
        state.negative_sample_rate,
        False,
    )
    return np.asarray(embedding, dtype=np.float64)


def _weighted_start(graph, fitted: np.ndarray) -> np.ndarray:
    """Start of each new point: the membership-weighted mean of its neighbours'
    positions, or the position of a fitted point it is identical to (weight 1),
    or ``nan`` without neighbours; what ``umap.umap_.init_graph_transform``
    does, as sparse matrix products rather than a loop over rows.
    """
    coo = graph.tocoo()
    sums = np.asarray(graph.sum(axis=1), dtype=np.float64).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        start = (graph @ fitted.astype(np.float64)) / sums[:, None]
    same = coo.data == 1
    rows, first = np.unique(coo.row[same], return_index=True)
    start[rows] = fitted[coo.col[same][first]]
    start[np.diff(graph.indptr) == 0] = np.nan
    return start.astype(np.float32)
