"""The estimator: texts in, groups out, with scikit-learn conventions.

:class:`TextClusterer` chains the stages for one column of texts. The notebook API
(:func:`clustering.cluster_texts`) and the CLI are built on it: they add reading
files, choosing the column and writing reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from clustering.errors import InputError, ParameterError
from clustering.options import DEFAULT_MODEL, Options, make_options
from clustering.prepare import PreparedTexts, prepare_texts

logger = logging.getLogger(__name__)


def _check_against_data(options: Options, prepared: PreparedTexts) -> None:
    """Limits that depend on the data, checked before the model is loaded."""
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
    notes_ : list of str
        What was adjusted to fit the data.
    timings_ : dict
        Seconds per stage.
    long_texts_ : dict or None
        Texts longer than the model's token limit: ``limit``, ``rows``,
        ``distinct``, ``longest_tokens`` and ``mode``; ``None`` when embeddings
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
        from clustering.cluster import fit_clusters
        from clustering.describe import describe_groups
        from clustering.embed import Embedder
        from clustering.reduce import reduce_vectors

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
        reduction = reduce_vectors(
            vectors,
            n_neighbors=options.n_neighbors,
            n_components=options.n_components,
            random_state=options.random_state,
        )
        lap("reduce")
        clusters = fit_clusters(
            reduction.cluster_coords,
            prepared.counts,
            min_cluster_size=options.min_cluster_size,
            min_samples=options.min_samples,
        )
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

        # Fitted attributes, per distinct text and per input row.
        kept = prepared.row_to_unique >= 0
        index = np.where(kept, prepared.row_to_unique, 0)
        self.prepared_ = prepared
        self.texts_ = texts
        self.embeddings_ = vectors
        self.reduction_ = reduction
        self.clusters_ = clusters
        self.groups_ = groups
        self.distinct_labels_ = clusters.labels
        self.labels_ = np.where(kept, clusters.labels[index], -1)
        self.probabilities_ = np.where(kept, clusters.strengths[index], 0.0)
        self.skip_reason_ = prepared.skip_reason
        self.map_coords_ = np.where(kept[:, None], reduction.map_coords[index], np.nan)
        self.n_clusters_ = len(groups)
        self.notes_ = long_notes + reduction.notes + clusters.notes
        self.timings_ = timings
        return self

    def fit_predict(
        self, X: Sequence[object], y: None = None, **fit_params: object
    ) -> np.ndarray:
        """Fit and return ``labels_`` (shape (n_samples,); ``-1`` unclustered)."""
        return self.fit(X, **fit_params).labels_
