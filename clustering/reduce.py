"""Reduce stage: UMAP to a few dimensions for clustering and to 2 for the map.

The nearest-neighbour graph is computed once and handed to both reductions: exactly
(chunked matrix products, never an n x n matrix) up to :data:`EXACT_KNN_MAX` texts,
with pynndescent's approximate search above. Neighbours and dimensions are fitted to
small inputs, and every change is recorded in :attr:`Reduction.notes`.

Compile once: UMAP and pynndescent compile their numba kernels in every fresh
process, which costs more than the work itself on a few thousand texts. Before the
first reduction, :func:`enable_compile_cache` turns numba's on-disk cache on for
those kernels, so that cost is paid once per install (``clustering warmup``) rather
than once per run.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

#: Fewer distinct texts than this are not reduced with UMAP (it needs a graph).
MIN_POINTS_FOR_UMAP = 4

#: Up to this many distinct texts the neighbour graph is exact; above, pynndescent.
EXACT_KNN_MAX = 20_000

#: Optimisation epochs of the clustering and the map reductions (``None``: UMAP's
#: own choice, 500 up to 10,000 texts and 200 above).
CLUSTER_EPOCHS: int | None = None
MAP_EPOCHS: int | None = None

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
    vectors: np.ndarray, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine nearest neighbours of unit vectors, block by block.

    Each point is its own first neighbour (distance 0), as UMAP expects. Memory
    stays linear in ``n_samples``: one block of similarities at a time.

    Parameters
    ----------
    vectors : numpy.ndarray of shape (n_samples, n_features)
        Unit-length vectors.
    n_neighbors : int
        Neighbours per point, the point itself included.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (n_samples, n_neighbors)
    distances : numpy.ndarray of float32, shape (n_samples, n_neighbors)
        Cosine distances, ``1 - cosine similarity``, ascending.

    Examples
    --------
    >>> points = np.eye(3, dtype=np.float32)
    >>> exact_neighbors(points, 2)[0][:, 0].tolist()
    [0, 1, 2]
    """
    import torch

    data = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    n = len(data)
    indices = np.empty((n, n_neighbors), dtype=np.int64)
    distances = np.empty((n, n_neighbors), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, n, _KNN_BLOCK):
            stop = min(start + _KNN_BLOCK, n)
            similar = data[start:stop] @ data.T
            # The point itself comes first, even when another point is identical.
            rows = torch.arange(stop - start)
            similar[rows, rows + start] = 2.0
            values, found = torch.topk(similar, n_neighbors, dim=1)
            indices[start:stop] = found.numpy()
            distances[start:stop] = (1.0 - values).clamp_(min=0.0).numpy()
    distances[:, 0] = 0.0
    return indices, distances


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
    cluster_reducer, map_reducer : umap.UMAP or None
        Fitted reducers, kept for placing new rows later.
    knn_indices : numpy.ndarray of int, shape (n_samples, n_neighbors_used) or None
        The shared neighbour graph: row ``i`` lists the nearest texts of text
        ``i`` (itself first); ``None`` when UMAP was not run.
    """

    cluster_coords: np.ndarray
    map_coords: np.ndarray
    n_neighbors_used: int
    notes: list[str] = field(default_factory=list)
    cluster_reducer: object | None = None
    map_reducer: object | None = None
    knn_indices: np.ndarray | None = None


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

    Returns
    -------
    Reduction
    """
    n = len(vectors)
    if n < MIN_POINTS_FOR_UMAP:
        return _tiny_layout(vectors)

    enable_compile_cache()
    import umap
    from umap.umap_ import nearest_neighbors

    # Fit the graph's size to the data.
    notes: list[str] = []
    k = min(n_neighbors, n - 1)
    if k != n_neighbors:
        notes.append(f"n_neighbors lowered from {n_neighbors} to {k} for {n} texts")
    # Spectral initialisation needs a few more points than dimensions.
    init = "spectral" if n > n_components + 3 else "random"
    if init == "random":
        notes.append(f"UMAP started from a random layout for {n} texts")

    # One neighbour graph, shared by both reductions.
    if n <= EXACT_KNN_MAX:
        knn_indices, knn_dists = exact_neighbors(vectors, k)
        knn = (knn_indices, knn_dists)
    else:
        knn = nearest_neighbors(
            vectors,
            k,
            "cosine",
            {},
            True,
            np.random.RandomState(random_state),
            low_memory=True,
            use_pynndescent=True,
            n_jobs=1,
            verbose=verbose,
        )
    reducers = []
    for dims, min_dist, epochs in (
        (n_components, 0.0, CLUSTER_EPOCHS),
        (2, min_dist_map, MAP_EPOCHS),
    ):
        reducers.append(
            umap.UMAP(
                n_neighbors=k,
                n_components=dims,
                min_dist=min_dist,
                metric="cosine",
                init=init,
                random_state=random_state,
                precomputed_knn=knn,
                n_epochs=epochs,
                verbose=verbose,
            )
        )
    with warnings.catch_warnings():
        # A seeded UMAP runs on one thread and says so; that is expected here.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # The exact graph has no search index; new rows are placed without one.
        warnings.filterwarnings(
            "ignore", message="precomputed_knn.2.", category=UserWarning
        )
        cluster_coords = reducers[0].fit_transform(vectors)
        map_coords = reducers[1].fit_transform(vectors)

    logger.info("reduced %d vectors to %d and 2 dimensions", n, n_components)
    return Reduction(
        cluster_coords=np.asarray(cluster_coords, dtype=np.float64),
        map_coords=np.asarray(map_coords, dtype=np.float64),
        n_neighbors_used=k,
        notes=notes,
        cluster_reducer=reducers[0],
        map_reducer=reducers[1],
        knn_indices=np.asarray(knn_indices),
    )
