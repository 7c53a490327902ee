"""Report stage: write a run's files, whole or not at all.

Files in the output folder: ``assignments.csv``, ``clusters.csv``,
``clusters.json``, ``map.png``, ``map.svg``, ``sizes.png``, ``report.html``,
``report.md``, ``run.json`` and, with ``by=COLUMN``, ``breakdown.csv``. They are
written into a hidden staging folder beside the output folder and moved into place
only when all are complete, so an interrupted run leaves no half-written report.
Plotting is in :mod:`clustering.plot` (static) and :mod:`clustering.interactive`
(the report's charts); this module only gathers what the templates show.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from clustering.errors import OutputError

if TYPE_CHECKING:
    from clustering.result import ClusteringResult

logger = logging.getLogger(__name__)

OUTPUT_FILES = (
    "assignments.csv",
    "clusters.csv",
    "clusters.json",
    "map.png",
    "map.svg",
    "sizes.png",
    "report.html",
    "report.md",
    "run.json",
    "breakdown.csv",
)
OPTIONAL_FILES = ("breakdown.csv",)
"""Files written only when asked for (``by=COLUMN``)."""
N_EXAMPLES = 10
"""Example rows per group behind the card's toggle, besides the central ones."""
N_UNCLUSTERED = 50
"""Distinct unclustered texts listed in the report, those with most rows first."""
_EXAMPLE_CHARS = 300


def _environment(autoescape: bool = True):
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("clustering", "templates"),
        autoescape=select_autoescape(default=autoescape, default_for_string=autoescape),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["md"] = markdown_text
    environment.filters["percent"] = lambda share: f"{100 * share:.1f}%"
    return environment


def markdown_text(text: object) -> str:
    r"""``text`` on one line, safe inside Markdown: tags, pipes and marks escaped.

    Examples
    --------
    >>> print(markdown_text("<b>a|b</b>\n*c*"))
    &lt;b&gt;a\|b&lt;/b&gt; \*c\*
    """
    import html
    import re

    flat = " ".join(str(text).split())
    flat = html.escape(flat, quote=False)
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", flat)


def group_examples(result: ClusteringResult, n_examples: int = N_EXAMPLES) -> dict:
    """A few more texts per group than its central ones, picked with the run's seed.

    Returns a dict from group id to a list of at most ``n_examples`` distinct texts,
    each cut to 300 characters.
    """
    import numpy as np

    points = result.points
    labels = points.labels
    rng = np.random.default_rng(result.run_info["options"].get("random_state", 0))
    examples = {}
    for group in result.groups:
        central = set(group.central_texts)
        members = [
            i
            for i in np.flatnonzero(labels == group.cluster_id)
            if points.texts[i] not in central
        ]
        chosen = sorted(rng.permutation(members)[:n_examples]) if members else []
        examples[group.cluster_id] = [
            _cut(points.texts[i], _EXAMPLE_CHARS) for i in chosen
        ]
    return examples


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clusters_table_for_csv(clusters: pd.DataFrame) -> pd.DataFrame:
    """The clusters table with lists spread out: keywords joined, one column per
    central text (``central_text_1`` ...)."""
    flat = clusters.drop(columns=["keywords", "central_texts"]).copy()
    flat.insert(2, "keywords", [", ".join(k) for k in clusters["keywords"]])
    width = max((len(c) for c in clusters["central_texts"]), default=0)
    for i in range(width):
        flat[f"central_text_{i + 1}"] = [
            c[i] if i < len(c) else "" for c in clusters["central_texts"]
        ]
    flat["share"] = flat["share"].round(4)
    flat["cohesion"] = flat["cohesion"].astype(float).round(4)
    return flat


def unclustered_texts(
    result: ClusteringResult, n_texts: int = N_UNCLUSTERED
) -> list[tuple[str, int]]:
    """The distinct unclustered texts holding most rows, with their row counts
    (ties in text order), each cut to 300 characters."""
    import numpy as np

    points = result.points
    counts = np.asarray(points.counts)
    alone = np.flatnonzero(np.asarray(points.labels) < 0)
    chosen = alone[np.argsort(-counts[alone], kind="stable")][:n_texts]
    return [(_cut(points.texts[i], _EXAMPLE_CHARS), int(counts[i])) for i in chosen]


def report_context(result: ClusteringResult, map_png: bytes) -> dict:
    """What both report templates show: counts, options, groups, charts."""
    from clustering.plot import group_colours

    estimator = result.estimator
    names = {g.cluster_id: g.label for g in result.groups}
    options = result.run_info["options"]
    return {
        "info": result.run_info,
        "groups": result.groups,
        "colours": group_colours(len(result.groups)),
        "examples": group_examples(result),
        "unclustered_texts": unclustered_texts(result),
        "unclustered": int(result.run_info["counts"]["unclustered"]),
        "map_image": base64.b64encode(map_png).decode(),
        "by": options.get("by"),
        "breakdown": result.breakdown,
        "names": names,
        "estimator": estimator,
    }


def render_report_html(result: ClusteringResult, map_png: bytes) -> str:
    """The self-contained HTML report: summary, interactive map, sizes, cards,
    breakdown; plotly.js is inlined so the page needs no network."""
    from clustering import interactive

    context = report_context(result, map_png)
    points = result.points
    context["plotly_js"] = interactive.plotly_js()
    context["map_html"] = interactive.map_html(
        points.texts, points.coords, points.labels, points.counts, context["names"]
    )
    context["sizes_html"] = interactive.sizes_html(
        [g.size for g in result.groups],
        [g.label for g in result.groups],
        context["unclustered"],
    )
    context["breakdown_html"] = (
        interactive.breakdown_html(result.breakdown, context["by"])
        if result.breakdown is not None
        else ""
    )
    template = _environment().get_template("report.html.j2")
    return template.render(**context)


def render_report_md(result: ClusteringResult) -> str:
    """The summary and group cards in plain Markdown."""
    context = report_context(result, b"")
    return _environment(autoescape=False).get_template("report.md.j2").render(**context)


def render_summary_html(result: ClusteringResult, map_image_b64: str) -> str:
    """A compact HTML summary for notebooks."""
    template = _environment().get_template("summary.html.j2")
    return template.render(
        info=result.run_info, groups=result.groups, map_image=map_image_b64
    )


def _holds_report(folder: Path) -> bool:
    return any((folder / name).exists() for name in OUTPUT_FILES)


def check_out_dir(out_dir: Path, *, force: bool = False) -> None:
    """Refuse an output folder that is a file, is not writable, or holds a report.

    Called before any expensive step, so a run does not fail at its very end.

    Raises
    ------
    OutputError
        With what to do instead.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder")
    if out_dir.is_dir() and _holds_report(out_dir) and not force:
        raise OutputError(
            f"{out_dir} already holds a report; pass --force (force=True in Python) to "
            "replace it, or choose another --out folder"
        )
    existing = next(p for p in [out_dir, *out_dir.absolute().parents] if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {out_dir}: {existing} is not writable")


def _move_all(staging: Path, out_dir: Path) -> None:
    """Move every file from ``staging`` into ``out_dir``, all or none.

    Files of an earlier report are first linked (or copied) into a backup folder
    inside ``staging``; if a move fails or is interrupted, the files already moved
    are put back, so the folder holds either the old report or the new one.
    """
    backup = staging / "previous"
    backup.mkdir()
    for name in OUTPUT_FILES:
        if (out_dir / name).exists():
            try:
                os.link(out_dir / name, backup / name)
            except OSError:
                shutil.copy2(out_dir / name, backup / name)
    # TODO: a hard kill (SIGKILL, power loss) between two moves can still leave
    # a mix of old and new files; only an interruption Python sees is rolled back.
    moved: list[str] = []
    try:
        for name in OUTPUT_FILES:
            if (staging / name).exists():
                os.replace(staging / name, out_dir / name)
            elif (out_dir / name).exists():
                # A file this run does not write (an earlier breakdown.csv) goes.
                (out_dir / name).unlink()
            else:
                continue
            moved.append(name)
    except BaseException:
        for name in moved:
            if (backup / name).exists():
                os.replace(backup / name, out_dir / name)
            else:
                (out_dir / name).unlink(missing_ok=True)
        raise


def write_report(
    result: ClusteringResult, out_dir: str | Path, *, force: bool = False
) -> Path:
    """Write every output file of ``result`` into ``out_dir``.

    Parameters
    ----------
    result : ClusteringResult
    out_dir : str or pathlib.Path
        Created if missing.
    force : bool, default=False
        Replace the files of an earlier report in ``out_dir``.

    Returns
    -------
    pathlib.Path
        The output folder.

    Raises
    ------
    OutputError
        If ``out_dir`` holds a report and ``force`` is False, or is not writable.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, force=force)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".clustering-", dir=out_dir.parent))
    except OSError as error:
        raise OutputError(f"cannot write to {out_dir}: {error}") from None

    try:
        # Write every file into the staging folder.
        result.assignments.to_csv(staging / "assignments.csv", index=False)
        clusters_table_for_csv(result.clusters).to_csv(
            staging / "clusters.csv", index=False
        )
        (staging / "clusters.json").write_text(result.to_json(), encoding="utf-8")
        figure = result.plot()
        figure.savefig(staging / "map.png", dpi=100)
        figure.savefig(staging / "map.svg")
        result.plot_sizes().savefig(staging / "sizes.png", dpi=100)
        map_png = (staging / "map.png").read_bytes()
        (staging / "report.html").write_text(
            render_report_html(result, map_png), encoding="utf-8"
        )
        (staging / "report.md").write_text(render_report_md(result), encoding="utf-8")
        if result.breakdown is not None:
            result.breakdown.to_csv(staging / "breakdown.csv", index=False)
        (staging / "run.json").write_text(
            json.dumps(result.run_info, indent=2, ensure_ascii=False, default=str),
            encoding="utf-8",
        )

        # Move them into place only once all are complete.
        out_dir.mkdir(parents=True, exist_ok=True)
        _move_all(staging, out_dir)
    except OSError as error:
        raise OutputError(f"cannot write the report to {out_dir}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("wrote the report files into %s", out_dir)
    return out_dir
