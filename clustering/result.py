"""The result of a run: tables for pandas users, a plot, a notebook view, files.

:class:`ClusteringResult` holds what the stages produced; :func:`build_assignments`
and :func:`build_clusters` turn stage outputs into the two tables users read.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clustering.describe import GroupDescription

UNCLUSTERED = "unclustered"
ADDED_COLUMNS = (
    "status",
    "skip_reason",
    "cluster_id",
    "cluster_label",
    "membership_strength",
    "map_x",
    "map_y",
)


def added_column_names(existing: list[str]) -> dict[str, str]:
    """Names for the added columns that do not clash with the input's columns.

    Examples
    --------
    >>> added_column_names(["id", "status"])["status"]
    'status_'
    """
    taken = set(existing)
    names = {}
    for name in ADDED_COLUMNS:
        chosen = name
        while chosen in taken:
            chosen += "_"
        names[name] = chosen
        taken.add(chosen)
    return names


def build_assignments(
    frame: pd.DataFrame,
    skip_reason: np.ndarray,
    labels: np.ndarray,
    strengths: np.ndarray,
    map_coords: np.ndarray,
    names: dict[int, str],
    moved: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per input row, input columns untouched, plus the run's columns.

    All arrays are per input row. ``cluster_id`` is ``-1`` for unclustered rows and
    empty for skipped rows. Rows in ``moved`` (unclustered rows that
    ``assign_noise`` put into a group) get the status ``assigned``.
    """
    kept = skip_reason == ""
    status = np.where(~kept, "skipped", np.where(labels >= 0, "clustered", UNCLUSTERED))
    if moved is not None:
        status = np.where(moved, "assigned", status)
    cluster_id = pd.array(labels, dtype="Int64")
    cluster_id[~kept] = pd.NA
    label_text = [
        names.get(int(g), UNCLUSTERED) if k else ""
        for k, g in zip(kept, labels, strict=True)
    ]

    out = frame.copy()
    column = added_column_names([str(c) for c in frame.columns])
    out[column["status"]] = status
    out[column["skip_reason"]] = skip_reason
    out[column["cluster_id"]] = cluster_id
    out[column["cluster_label"]] = label_text
    out[column["membership_strength"]] = np.where(kept, np.round(strengths, 4), np.nan)
    out[column["map_x"]] = np.round(map_coords[:, 0], 4)
    out[column["map_y"]] = np.round(map_coords[:, 1], 4)
    return out


def build_clusters(
    groups: list[GroupDescription], n_unclustered: int, n_kept: int
) -> pd.DataFrame:
    """One row per group, then one row (id ``-1``) counting the unclustered rows."""
    rows = [g.to_dict() for g in groups]
    rows.append(
        {
            "cluster_id": -1,
            "label": UNCLUSTERED,
            "size": n_unclustered,
            "n_distinct": None,
            "share": n_unclustered / n_kept if n_kept else 0.0,
            "keywords": [],
            "central_texts": [],
            "cohesion": None,
        }
    )
    table = pd.DataFrame(rows)
    table["n_distinct"] = table["n_distinct"].astype("Int64")
    table["cohesion"] = table["cohesion"].astype(float)
    return table


@dataclass
class MapPoints:
    """The distinct texts a result draws and quotes.

    Attributes
    ----------
    texts : list of str, length n_distinct
    coords : numpy.ndarray of shape (n_distinct, 2)
        Map coordinates.
    labels : numpy.ndarray of int, shape (n_distinct,)
        Group of each text; ``-1`` unclustered.
    counts : numpy.ndarray of int, shape (n_distinct,)
        Rows holding each text.
    """

    texts: list[str]
    coords: np.ndarray
    labels: np.ndarray
    counts: np.ndarray


@dataclass
class ClusteringResult:
    """What a run found.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per input row, in input order: the input's columns untouched, then
        ``status`` (``clustered``, ``unclustered`` or ``skipped``), ``skip_reason``,
        ``cluster_id`` (``-1`` unclustered, empty when skipped), ``cluster_label``,
        ``membership_strength`` and the map coordinates ``map_x``, ``map_y``.
    clusters : pandas.DataFrame
        One row per group (``cluster_id``, ``label``, ``size``, ``share``,
        ``keywords``, ``central_texts``, ...), and a last row with id ``-1`` counting
        the unclustered rows.
    groups : list of GroupDescription
        The same groups as objects.
    run_info : dict
        Everything ``run.json`` holds: input, options, fitted values, counts,
        timings, versions and notes.
    estimator : TextClusterer
        The fitted estimator, with the vectors (``embeddings_``), reducers and
        clusterer.
    map_points : MapPoints, optional
        The distinct texts to draw and quote when they are not the estimator's
        fitted ones (rows placed in a fitted model); see :attr:`points`.
    breakdown : pandas.DataFrame or None
        With ``by=COLUMN``: rows per value of that column and group (see
        :func:`clustering.breakdown.breakdown_table`); else None.
    """

    assignments: pd.DataFrame
    clusters: pd.DataFrame
    groups: list[GroupDescription]
    run_info: dict
    estimator: object = field(repr=False, default=None)
    map_points: MapPoints | None = field(repr=False, default=None)
    breakdown: pd.DataFrame | None = field(repr=False, default=None)

    @property
    def points(self) -> MapPoints:
        """The distinct texts of this result: the placed rows of an ``assign``
        run, else the fitted texts."""
        if self.map_points is not None:
            return self.map_points
        estimator = self.estimator
        return MapPoints(
            estimator.texts_,
            estimator.reduction_.map_coords,
            estimator.distinct_labels_,
            estimator.prepared_.counts,
        )

    @property
    def quality(self) -> dict:
        """The quality panel: run-wide scores, per-group stability and cohesion,
        and (with ``label_column``) agreement with the labels."""
        return self.run_info["quality"]

    @property
    def n_clusters(self) -> int:
        return len(self.groups)

    def plot(self, *, figsize: tuple[float, float] | None = None):
        """Draw the 2-d map; returns a :class:`matplotlib.figure.Figure`.

        ``figsize`` (inches) defaults to (10, 8), or (12, 10) past 30 groups.
        """
        from clustering.plot import map_figure

        names = {g.cluster_id: g.label for g in self.groups}
        points = self.points
        return map_figure(points.coords, points.labels, names, figsize=figsize)

    def plot_sizes(self):
        """Bars of the group sizes; returns a :class:`matplotlib.figure.Figure`."""
        from clustering.plot import sizes_figure

        n_unclustered = int(self.run_info["counts"]["unclustered"])
        return sizes_figure(
            [g.size for g in self.groups], [g.label for g in self.groups], n_unclustered
        )

    def map_png(self, dpi: int = 100) -> bytes:
        """The map as PNG bytes."""
        buffer = io.BytesIO()
        self.plot().savefig(buffer, format="png", dpi=dpi)
        return buffer.getvalue()

    def save(self, out_dir: str | Path, *, force: bool = False) -> Path:
        """Write the same files as the CLI into ``out_dir``; returns the folder.

        Raises
        ------
        OutputError
            If ``out_dir`` already holds a report and ``force`` is False.
        """
        from clustering.report import write_report

        return write_report(self, out_dir, force=force)

    def summary(self) -> str:
        """One line: groups, clustered, unclustered and skipped counts."""
        counts = self.run_info["counts"]
        return (
            f"{counts['groups']} groups; {counts['clustered']} rows clustered, "
            f"{counts['unclustered']} unclustered, {counts['skipped']} skipped "
            f"(of {counts['rows']})"
        )

    def __repr__(self) -> str:
        return f"<ClusteringResult: {self.summary()}>"

    def _repr_html_(self) -> str:
        from clustering.report import render_summary_html

        image = base64.b64encode(self.map_png(dpi=60)).decode()
        return render_summary_html(self, image)

    def to_json(self) -> str:
        """``clusters.json`` as a string."""
        unclustered = self.clusters[self.clusters.cluster_id == -1].iloc[0]
        payload = {
            "clusters": [g.to_dict() for g in self.groups],
            "unclustered": {
                "size": int(unclustered["size"]),
                "share": float(unclustered["share"]),
            },
            "skipped": int(self.run_info["counts"]["skipped"]),
        }
        return json.dumps(payload, indent=2, ensure_ascii=False)
