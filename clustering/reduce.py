"""Reduce stage: UMAP to a few dimensions for clustering and to 2 for the map.

The nearest-neighbour graph is computed once and handed to both reductions.
Neighbours and dimensions are fitted to small inputs, and every change is recorded
in :attr:`Reduction.notes`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

#: Fewer distinct texts than this are not reduced with UMAP (it needs a graph).
MIN_POINTS_FOR_UMAP = 4


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
    knn_indices, knn_dists, forest = nearest_neighbors(
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
    for dims, min_dist in ((n_components, 0.0), (2, min_dist_map)):
        reducers.append(
            umap.UMAP(
                n_neighbors=k,
                n_components=dims,
                min_dist=min_dist,
                metric="cosine",
                init=init,
                random_state=random_state,
                precomputed_knn=(knn_indices, knn_dists, forest),
                verbose=verbose,
            )
        )
    with warnings.catch_warnings():
        # A seeded UMAP runs on one thread and says so; that is expected here.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
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
