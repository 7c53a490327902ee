"""Static plots with matplotlib, drawn on figures that need no GUI backend.

Figures are built with :class:`matplotlib.figure.Figure` directly, so plotting never
switches the user's backend and works headless; in Jupyter the figure displays
itself.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

UNCLUSTERED_COLOUR = "#d0d0d0"
_MAX_LABEL_CHARS = 40


class MapFigure(Figure):
    """A matplotlib figure that shows itself as a PNG in Jupyter, with no backend."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def group_colours(n_groups: int) -> list[str]:
    """Distinct colours for ``n_groups`` groups (tab10, then glasbey past ten).

    Examples
    --------
    >>> len(group_colours(25)), len(set(group_colours(25)))
    (25, 25)
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if n_groups <= 10:
        return [to_hex(c) for c in colormaps["tab10"].colors[:n_groups]]
    import colorcet

    return list(colorcet.glasbey_dark[:n_groups]) + [
        to_hex(c) for c in np.random.default_rng(0).random((max(0, n_groups - 256), 3))
    ]


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL_CHARS else text[: _MAX_LABEL_CHARS - 1] + "…"


def map_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    *,
    title: str = "",
    figsize: tuple[float, float] = (10.0, 8.0),
):
    """Scatter the 2-d map: one colour per group, labels at the groups' centres.

    Parameters
    ----------
    coords : numpy.ndarray of shape (n_points, 2)
        Map coordinates.
    labels : numpy.ndarray of int, shape (n_points,)
        Group per point; ``-1`` (unclustered) is drawn in light grey underneath.
    names : dict
        Group id to label text.
    title : str, default=""
    figsize : tuple of float, default=(10, 8)

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.patheffects as effects

    figure = MapFigure(figsize=figsize, dpi=100, layout="constrained")
    axes = figure.add_subplot()
    groups = sorted(g for g in np.unique(labels) if g >= 0)
    colours = group_colours(len(groups))
    size = float(np.clip(8000 / max(len(coords), 1), 3, 40))

    # Unclustered first, in grey, so groups are drawn over them.
    noise = labels < 0
    if noise.any():
        axes.scatter(
            *coords[noise].T,
            s=size,
            c=UNCLUSTERED_COLOUR,
            linewidths=0,
            label=f"unclustered ({int(noise.sum())})",
        )
    for group, colour in zip(groups, colours, strict=True):
        members = labels == group
        axes.scatter(*coords[members].T, s=size, c=colour, linewidths=0, alpha=0.8)

    # One label per group at its median point, outlined for contrast.
    for group, colour in zip(groups, colours, strict=True):
        x, y = np.median(coords[labels == group], axis=0)
        axes.text(
            x,
            y,
            _short(names.get(group, str(group))),
            fontsize=9,
            ha="center",
            va="center",
            color=colour,
            weight="bold",
            path_effects=[effects.withStroke(linewidth=3, foreground="white")],
        )
    # TODO: labels of neighbouring groups can overlap, and glyphs missing from the
    # default font (CJK, emoji) render as boxes; issue 4 covers both.

    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_aspect("equal", adjustable="datalim")
    if noise.any():
        axes.legend(loc="lower right", frameon=False, fontsize=8)
    if not groups:
        axes.set_title("No groups found: every text is unclustered", fontsize=10)
    if title:
        figure.suptitle(title)
    return figure
