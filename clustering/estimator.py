"""The estimator: texts in, groups out, with scikit-learn conventions.

:class:`TextClusterer` chains the stages for one column of texts. The notebook API
(:func:`clustering.cluster_texts`) and the CLI are built on it: they add reading
files, choosing the column and writing reports.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from clustering.errors import InputError, ParameterError
from clustering.options import DEFAULT_MODEL, Options, make_options
from clustering.prepare import PreparedTexts, prepare_texts

logger = logging.getLogger(__name__)


def _check_against_data(options: Options, prepared: PreparedTexts) -> None:
    """Limits that depend on the data, checked before the model is loaded."""
    if prepared.n_rows == 0:
        raise InputError("the input has no rows: there is nothing to cluster")
    if prepared.n_kept == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in prepared.skipped_counts().items())
        raise InputError(
            f"no usable text in column {prepared.column!r}: all {prepared.n_rows} "
            f"rows were skipped ({reasons or 'no rows'}); choose another column with "
            "--text-column"
        )
    n_distinct = len(prepared.unique_texts)
    if options.min_cluster_size is not None and options.min_cluster_size > n_distinct:
        raise ParameterError(
            "min_cluster_size",
            f"between 2 and the number of distinct texts ({n_distinct})",
            options.min_cluster_size,
        )


def _distinct_vectors(embeddings: object, prepared: PreparedTexts) -> np.ndarray:
    """Unit vectors of the distinct texts, taken from per-row ``embeddings``."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != prepared.n_rows:
        raise ParameterError(
            "embeddings",
            f"an array of shape ({prepared.n_rows}, dim), one row per input row",
            f"array of shape {vectors.shape}",
        )
    first_row = np.full(len(prepared.unique_texts), -1)
    kept_rows = np.flatnonzero(prepared.row_to_unique >= 0)
    # Walk backwards so the first row holding each text wins.
    first_row[prepared.row_to_unique[kept_rows[::-1]]] = kept_rows[::-1]
    chosen = vectors[first_row]
    norms = np.linalg.norm(chosen, axis=1, keepdims=True)
    return chosen / np.where(norms > 0, norms, 1.0)


def _long_text_report(
    embedder: object | None, prepared: PreparedTexts, mode: str
) -> tuple[dict | None, list[str]]:
    """Count the rows whose text is over the model's token limit, with a note."""
    if embedder is None:
        return None, []
    limit = embedder.max_seq_length
    tokens = embedder.token_counts_
    is_long = tokens > limit
    report = {
        "limit": limit,
        "rows": int(prepared.counts[is_long].sum()),
        "distinct": int(is_long.sum()),
        "longest_tokens": int(tokens.max(initial=0)),
        "mode": mode,
    }
    if not is_long.any():
        return report, []
    counted = (
        f"{report['rows']} row(s) ({report['distinct']} distinct texts) are longer "
        f"than the model's limit of {limit} tokens (longest: "
        f"{report['longest_tokens']} tokens)"
    )
    if mode == "chunk":
        note = (
            f"{counted}; each was embedded whole, as the average of its pieces of "
            f"at most {limit} tokens"
        )
    else:
        note = (
            f"{counted}; only their first {limit} tokens were embedded. Pass "
            "--long-texts chunk (long_texts='chunk') to embed each whole text as "
            "the average of its pieces"
        )
    return report, [note]


def _levels(clusters: object, counts: np.ndarray) -> dict | None:
    """Coarse and fine levels of the fit, with their nesting summary."""
    from clustering.levels import nesting, tree_levels

    if clusters.clusterer is None or clusters.labels.max(initial=-1) < 0:
        return None
    levels = tree_levels(clusters.clusterer, clusters.labels)
    levels["nesting"] = nesting(levels, clusters.labels, counts)
    return levels


def quality_panel(
    coords: np.ndarray,
    clusters: object,
    graph: object | None,
    groups: list,
    n_repeats: int,
    random_state: int,
    cache: object | None = None,
    cache_key: str | None = None,
) -> dict:
    """Label-free quality figures of a run; sets each group's stability.

    With a :class:`~clustering.cache.ResultCache` and the reduction's key, the
    figures of the same grouping of the same coordinates are read back.

    Returns
    -------
    dict
        ``modularity`` (on the neighbour graph, unclustered as singletons),
        ``relative_validity`` (DBCV-style) and ``silhouette`` on the reduced
        space (``None`` when undefined), ``stability_repeats``, and ``groups``:
        per group ``cluster_id``, ``stability``, ``cohesion``, ``unstable``.
    """
    from clustering import quality
    from clustering.cluster import refit_labels

    labels = clusters.labels
    if clusters.clusterer is None:  # no density fit to repeat
        n_repeats = 0
    record_key = None
    if cache is not None and cache_key is not None:
        digest = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64))
        record_key = cache.record_key(
            cache_key,
            digest.hexdigest(),
            n_repeats,
            random_state,
            clusters.min_cluster_size,
            clusters.min_samples,
            clusters.method,
        )
        record = cache.get_record(record_key)
        if isinstance(record, dict) and len(record.get("stability", [])) == len(groups):
            return _quality_record(record, groups, n_repeats)
    stability = quality.group_stability(
        labels,
        lambda positions: refit_labels(coords, clusters, positions),
        n_repeats=n_repeats,
        random_state=random_state,
    )
    figures = {
        "modularity": None if graph is None else quality.modularity(graph, labels),
        "relative_validity": quality.relative_validity(coords, labels),
        "silhouette": quality.silhouette(coords, labels, random_state),
    }
    record = {k: None if v is None else round(v, 4) for k, v in figures.items()}
    record["stability"] = [
        None if np.isnan(stability[g.cluster_id]) else float(stability[g.cluster_id])
        for g in groups
    ]
    if record_key is not None:
        cache.put_record(record_key, record)
    return _quality_record(record, groups, n_repeats)


def _quality_record(record: dict, groups: list, n_repeats: int) -> dict:
    """The panel from its figures; sets each group's stability and flag."""
    from clustering import quality

    for group, value in zip(groups, record["stability"], strict=True):
        group.stability = None if value is None else round(float(value), 4)
        group.unstable = value is not None and value < quality.UNSTABLE_BELOW
    panel = {k: record[k] for k in ("modularity", "relative_validity", "silhouette")}
    panel["stability_repeats"] = n_repeats
    panel["unstable_groups"] = [g.cluster_id for g in groups if g.unstable]
    panel["groups"] = [
        {
            "cluster_id": g.cluster_id,
            "stability": g.stability,
            "cohesion": round(g.cohesion, 4),
            "unstable": g.unstable,
        }
        for g in groups
    ]
    return panel


def _import_stage_libraries(*, umap: bool) -> None:
    """Import UMAP (turning numba's on-disk cache on) and HDBSCAN before their
    stages, so that the stages' timings count their work, as other tools report
    theirs, and the imports are timed apart (``timings_["import"]``)."""
    import hdbscan  # noqa: F401

    if umap:
        from clustering.reduce import enable_compile_cache

        enable_compile_cache()


class TextClusterer(ClusterMixin, BaseEstimator):
    """Group short texts: embed, reduce with UMAP, cluster with HDBSCAN, describe.

    Parameters are stored as given and checked in :meth:`fit`, before any model
    is loaded. See :class:`clustering.options.Options` for each one's meaning.

    Parameters
    ----------
    model : str, default="all-MiniLM-L6-v2"
    min_cluster_size : int or None, default=None
        ``None`` scales it with the number of distinct texts.
    min_samples : int or None, default=None
    n_neighbors : int, default=15
    n_components : int, default=5
    random_state : int, default=42
    batch_size : int, default=64
    precision : {"auto", "float32", "bfloat16"}, default="auto"
    use_cache : bool, default=True
    cache_dir : str or None, default=None
    n_central : int, default=5
    n_keywords : int, default=8
    show_progress : bool, default=True
    long_texts : {"truncate", "chunk"}, default="truncate"
        Texts over the model's token limit: embed their start, or average the
        vectors of all their pieces.
    cluster_selection_method : {"auto", "eom", "leaf"}, default="auto"
    stability_repeats : int, default=3
    assign_noise : float or None, default=None

    Attributes
    ----------
    labels_ : numpy.ndarray of int, shape (n_samples,)
        Group per input text; ``-1`` means unclustered or skipped (see
        ``skip_reason_``).
    probabilities_ : numpy.ndarray of float, shape (n_samples,)
        Membership strength in [0, 1]; ``0`` for unclustered and skipped texts.
    skip_reason_ : numpy.ndarray of object, shape (n_samples,)
        ``""`` for a kept text, else why it was skipped.
    map_coords_ : numpy.ndarray of float, shape (n_samples, 2)
        2-d map position; ``nan`` for skipped texts.
    n_clusters_ : int
        Number of groups.
    groups_ : list of GroupDescription
        Each group's label, size, keywords and central texts, in id order.
    texts_ : list of str, length n_distinct
        Distinct kept texts, sorted; the rows of ``embeddings_``.
    embeddings_ : numpy.ndarray of shape (n_distinct, dim)
        Their unit-length vectors.
    distinct_labels_ : numpy.ndarray of int, shape (n_distinct,)
        Group per distinct text.
    prepared_ : PreparedTexts
        Row statuses and the row-to-distinct-text mapping.
    reduction_ : Reduction
        Both UMAP reductions and the fitted reducers.
    clusters_ : Clusters
        HDBSCAN's result and the values it used.
    search_ : list of dict
        The parameter candidates tried, each with its groups, unclustered share,
        label-free score (neighbour-graph modularity) and whether it was chosen.
    levels_ : dict or None
        Coarse and fine groupings of the distinct texts from the same condensed
        tree (``coarse``, ``fine`` arrays, ``-1`` outside) and ``nesting``, a
        summary of how they nest; ``None`` when HDBSCAN did not run.
    moved_ : numpy.ndarray of bool, shape (n_samples,)
        Rows that ``assign_noise`` moved from unclustered into a group.
    quality_ : dict
        The quality panel: ``modularity``, ``relative_validity`` (DBCV-style) and
        ``silhouette`` on the reduced space, and per group ``stability``,
        ``cohesion`` and ``unstable`` (see :func:`quality_panel`).
    notes_ : list of str
        What was adjusted to fit the data.
    timings_ : dict
        Seconds per stage; ``import`` is the loading of UMAP and HDBSCAN, timed
        apart from the stages that use them.
    long_texts_ : dict or None
        Texts longer than the model's token limit: ``limit``, ``rows``,
        ``distinct``, ``longest_tokens`` and ``mode``; ``None`` when embeddings
        were given.
    model_state_ : clustering.assign.ModelState
        What :meth:`predict` needs, as plain arrays (also what :meth:`save`
        writes).
    model_name_ : str or None
        Sentence model the texts were embedded with; ``None`` when the vectors
        were given.

    Examples
    --------
    >>> texts = ["cats purr", "dogs bark", "cats purr"]
    >>> TextClusterer(show_progress=False).fit_predict(texts).tolist()
    [0, -1, 0]
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        n_neighbors: int = 15,
        n_components: int = 5,
        random_state: int = 42,
        batch_size: int = 64,
        precision: str = "auto",
        use_cache: bool = True,
        cache_dir: str | None = None,
        n_central: int = 5,
        n_keywords: int = 8,
        show_progress: bool = True,
        long_texts: str = "truncate",
        cluster_selection_method: str = "auto",
        stability_repeats: int = 3,
        assign_noise: float | None = None,
    ) -> None:
        self.model = model
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.random_state = random_state
        self.batch_size = batch_size
        self.precision = precision
        self.use_cache = use_cache
        self.cache_dir = cache_dir
        self.n_central = n_central
        self.n_keywords = n_keywords
        self.show_progress = show_progress
        self.long_texts = long_texts
        self.cluster_selection_method = cluster_selection_method
        self.stability_repeats = stability_repeats
        self.assign_noise = assign_noise

    def checked_options(self) -> Options:
        """The parameters, checked; raises :class:`ParameterError` if one is bad."""
        return make_options(**self.get_params())

    def fit(
        self,
        X: Sequence[object],
        y: None = None,
        *,
        embeddings: object | None = None,
        column: str = "text",
    ) -> TextClusterer:
        """Find the groups in ``X``.

        Parameters
        ----------
        X : sequence of str, shape (n_samples,)
            Texts, one per row; empty and NA-like cells are skipped, not dropped.
        y : None
            Ignored.
        embeddings : array-like of shape (n_samples, dim), optional
            Precomputed vectors, one per row; the model is then not loaded.
        column : str, default="text"
            Name of the texts' column, used in messages.

        Returns
        -------
        self
        """
        from clustering.assign import state_from_fit
        from clustering.cache import ResultCache
        from clustering.cluster import assign_noise, fit_clusters
        from clustering.describe import describe_groups
        from clustering.embed import Embedder
        from clustering.quality import knn_graph
        from clustering.reduce import MIN_POINTS_FOR_UMAP, reduce_vectors, reduction_key

        options = self.checked_options()
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = round(now - clock, 3)
            clock = now

        # Account for every row and check the data-dependent limits.
        values = X.tolist() if hasattr(X, "tolist") else list(X)
        prepared = prepare_texts(values, column)
        _check_against_data(options, prepared)
        texts = prepared.unique_texts
        lap("prepare")

        # Embed the distinct texts (or take the given vectors).
        self.embedder_ = None
        if embeddings is not None:
            vectors = _distinct_vectors(embeddings, prepared)
        else:
            self.embedder_ = Embedder(
                options.model,
                batch_size=options.batch_size,
                precision=options.precision,
                show_progress=options.show_progress,
                cache_dir=options.cache_dir,
                use_cache=options.use_cache,
                long_texts=options.long_texts,
            )
            vectors = self.embedder_.embed(texts)
        self.long_texts_, long_notes = _long_text_report(
            self.embedder_, prepared, options.long_texts
        )
        lap("embed")

        # Reduce, cluster, describe.
        results = ResultCache(options.cache_dir) if options.use_cache else None
        params = {
            "n_neighbors": options.n_neighbors,
            "n_components": options.n_components,
            "random_state": options.random_state,
        }
        key = None
        if len(texts) >= MIN_POINTS_FOR_UMAP:
            key = reduction_key(vectors, **params) if results is not None else None
            _import_stage_libraries(umap=not (key and results.has(key)))
        lap("import")
        reduction = reduce_vectors(vectors, **params, cache=results, cache_key=key)
        lap("reduce")
        graph = None
        if reduction.knn_indices is not None:
            graph = knn_graph(reduction.knn_indices)
        clusters = fit_clusters(
            reduction.cluster_coords,
            prepared.counts,
            min_cluster_size=options.min_cluster_size,
            min_samples=options.min_samples,
            method=options.cluster_selection_method,
            graph=graph,
            cache=results,
            cache_key=reduction.cache_key,
        )
        levels = _levels(clusters, prepared.counts)
        moved = np.zeros(len(texts), dtype=bool)
        if options.assign_noise is not None and reduction.knn_indices is not None:
            before = clusters.labels
            clusters.labels, strengths = assign_noise(
                before, reduction.knn_indices, options.assign_noise
            )
            moved = (before < 0) & (clusters.labels >= 0)
            clusters.strengths = np.where(moved, strengths, clusters.strengths)
        lap("cluster")
        groups = describe_groups(
            texts,
            vectors,
            clusters.labels,
            prepared.counts,
            n_central=options.n_central,
            n_keywords=options.n_keywords,
        )
        lap("describe")
        quality = quality_panel(
            reduction.cluster_coords,
            clusters,
            graph,
            groups,
            options.stability_repeats,
            options.random_state,
            cache=results,
            cache_key=reduction.cache_key,
        )
        lap("quality")

        # Fitted attributes, per distinct text and per input row.
        kept = prepared.row_to_unique >= 0
        index = np.where(kept, prepared.row_to_unique, 0)
        self.prepared_ = prepared
        self.texts_ = texts
        self.embeddings_ = vectors
        self.reduction_ = reduction
        self.clusters_ = clusters
        self.search_ = clusters.search
        self.levels_ = levels
        self.moved_ = np.where(kept, moved[index], False)
        self.quality_ = quality
        self.groups_ = groups
        self.distinct_labels_ = clusters.labels
        self.labels_ = np.where(kept, clusters.labels[index], -1)
        self.probabilities_ = np.where(kept, clusters.strengths[index], 0.0)
        self.skip_reason_ = prepared.skip_reason
        self.map_coords_ = np.where(kept[:, None], reduction.map_coords[index], np.nan)
        self.n_clusters_ = len(groups)
        self.notes_ = long_notes + reduction.notes + clusters.notes
        self.timings_ = timings
        self.model_state_ = state_from_fit(texts, vectors, reduction, clusters)
        self.model_name_ = options.model if embeddings is None else None
        return self

    def fit_predict(
        self, X: Sequence[object], y: None = None, **fit_params: object
    ) -> np.ndarray:
        """Fit and return ``labels_`` (shape (n_samples,); ``-1`` unclustered)."""
        return self.fit(X, **fit_params).labels_

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_state_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "this TextClusterer is not fitted yet; call fit (or load a saved "
                "model with TextClusterer.load) first"
            )

    def place(
        self,
        X: Sequence[object],
        *,
        embeddings: object | None = None,
        column: str = "text",
    ) -> Assignment:
        """Place new rows in the fitted groups, with everything per row.

        See :mod:`clustering.assign` for the method: UMAP's transform from each
        text's nearest fitted texts, then HDBSCAN's approximate prediction. A
        text the model was fitted on keeps its fitted group.

        Parameters
        ----------
        X : sequence of str, shape (n_samples,)
            Texts; empty and NA-like cells are skipped, as in :meth:`fit`.
        embeddings : array-like of shape (n_samples, dim), optional
            Precomputed vectors, one per row; the model is then not loaded.
        column : str, default="text"
            Name of the texts' column, used in messages.

        Returns
        -------
        Assignment
            Per-row ``labels`` (``-1`` unclustered or skipped), ``strengths``,
            ``cluster_coords`` (n_samples, n_components), ``map_coords``
            (n_samples, 2; ``nan`` for skipped rows) and ``skip_reason``.
        """
        from clustering.assign import place_texts

        self._check_fitted()
        values = X.tolist() if hasattr(X, "tolist") else list(X)
        prepared = prepare_texts(values, column)
        state = self.model_state_
        n_dims = state.cluster_coords.shape[1]
        texts = prepared.unique_texts

        # Embed the distinct texts with the model's sentence model.
        if embeddings is not None:
            vectors = _distinct_vectors(embeddings, prepared)
        elif not texts:
            vectors = np.zeros((0, state.vectors.shape[1]), dtype=np.float32)
        else:
            vectors = self._embedder().embed(texts)

        # Place them, then spread the results back over the rows.
        placed = place_texts(state, texts, vectors)
        kept = prepared.row_to_unique >= 0
        index = np.where(kept, prepared.row_to_unique, 0)

        def per_row(values: np.ndarray, fill: float) -> np.ndarray:
            if not len(texts):
                shape = (prepared.n_rows,) + values.shape[1:]
                return np.full(shape, fill, dtype=float)
            mask = kept.reshape((-1,) + (1,) * (values.ndim - 1))
            return np.where(mask, values[index], fill)

        return Assignment(
            prepared=prepared,
            labels=per_row(placed.labels, -1).astype(np.int64),
            strengths=per_row(placed.strengths, 0.0),
            cluster_coords=per_row(placed.cluster_coords, np.nan).reshape(-1, n_dims),
            map_coords=per_row(placed.map_coords, np.nan).reshape(-1, 2),
            distinct_labels=placed.labels,
            distinct_map_coords=placed.map_coords,
            n_known=placed.n_known,
        )

    def _embedder(self):
        from clustering.embed import Embedder

        if getattr(self, "embedder_", None) is None:
            if self.model_name_ is None:
                raise ParameterError(
                    "embeddings",
                    "given: this model was fitted on precomputed vectors",
                    None,
                    "Pass embeddings= with vectors from the same model",
                )
            self.embedder_ = Embedder(
                self.model_name_,
                batch_size=self.batch_size,
                precision=self.precision,
                show_progress=self.show_progress,
                cache_dir=self.cache_dir,
                use_cache=self.use_cache,
                long_texts=self.long_texts,
            )
        return self.embedder_

    def predict(
        self,
        X: Sequence[object],
        *,
        embeddings: object | None = None,
        return_strength: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Fitted group of each new text.

        Parameters
        ----------
        X : sequence of str, shape (n_samples,)
        embeddings : array-like of shape (n_samples, dim), optional
            Precomputed vectors, one per row.
        return_strength : bool, default=False
            Also return the membership strengths.

        Returns
        -------
        labels : numpy.ndarray of int, shape (n_samples,)
            Group id; ``-1`` for rows far from every group, and for skipped rows.
        strengths : numpy.ndarray of float, shape (n_samples,)
            In [0, 1]; only when ``return_strength`` is True.

        Examples
        --------
        >>> texts = ["cats purr", "dogs bark", "cats purr"]
        >>> model = TextClusterer(show_progress=False).fit(texts)
        >>> model.predict(["cats purr", ""]).tolist()
        [0, -1]
        """
        placed = self.place(X, embeddings=embeddings)
        if return_strength:
            return placed.labels, placed.strengths
        return placed.labels

    def transform(
        self, X: Sequence[object], *, embeddings: object | None = None
    ) -> np.ndarray:
        """Coordinates of new texts in the reduced space that was clustered.

        Parameters
        ----------
        X : sequence of str, shape (n_samples,)
        embeddings : array-like of shape (n_samples, dim), optional

        Returns
        -------
        numpy.ndarray of shape (n_samples, n_components)
            ``nan`` rows for skipped texts.
        """
        return self.place(X, embeddings=embeddings).cluster_coords

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write the fitted model to the folder ``path``.

        See :func:`clustering.persist.save_model` for the folder's contents; no
        file in it is a pickle.
        """
        from clustering.persist import save_model

        self._check_fitted()
        return save_model(self, path, force=force)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TextClusterer:
        """Read a model written by :meth:`save`.

        Raises
        ------
        ModelError
            If the folder is not a model, or its manifest does not fit the
            installed versions.
        """
        from clustering.persist import load_model

        return load_model(path)


@dataclass
class Assignment:
    """New rows placed in a fitted model (see :meth:`TextClusterer.place`).

    Attributes
    ----------
    prepared : PreparedTexts
        Row statuses and the row-to-distinct-text mapping.
    labels : numpy.ndarray of int, shape (n_samples,)
    strengths : numpy.ndarray of float, shape (n_samples,)
    cluster_coords : numpy.ndarray of shape (n_samples, n_components)
    map_coords : numpy.ndarray of shape (n_samples, 2)
    distinct_labels : numpy.ndarray of int, shape (n_distinct,)
    distinct_map_coords : numpy.ndarray of shape (n_distinct, 2)
    n_known : int
        Distinct texts the model was fitted on.
    """

    prepared: PreparedTexts
    labels: np.ndarray
    strengths: np.ndarray
    cluster_coords: np.ndarray
    map_coords: np.ndarray
    distinct_labels: np.ndarray
    distinct_map_coords: np.ndarray
    n_known: int
