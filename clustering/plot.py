"""Static plots with matplotlib, drawn on figures that need no GUI backend.

Figures are built with :class:`matplotlib.figure.Figure` directly, so plotting never
switches the user's backend and works headless; in Jupyter the figure displays
itself. Text in any script renders when a font holding its glyphs is installed:
the fonts are picked at run time (:func:`font_families`), falling back to
matplotlib's own DejaVu Sans.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

UNCLUSTERED_COLOUR = "#d0d0d0"

# Families tried in order; matplotlib falls back glyph by glyph along the list.
# Debian packages: fonts-noto-cjk (CJK), fonts-symbola (emoji and symbols in
# outline form: matplotlib cannot draw the bitmap-only Noto Color Emoji).
_FONT_CANDIDATES = {
    "DejaVu Sans": (),
    "Noto Sans CJK JP": ("NotoSansCJK-Regular.ttc", "NotoSansCJKjp-Regular.otf"),
    "Noto Sans CJK SC": ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf"),
    "Noto Sans": ("NotoSans-Regular.ttf",),
    "Symbola": ("Symbola_hint.ttf", "Symbola.ttf"),
    "Noto Sans Symbols2": ("NotoSansSymbols2-Regular.ttf",),
}


class MapFigure(Figure):
    """A matplotlib figure that shows itself as a PNG in Jupyter, with no backend.

    ``group_labels`` holds the label texts drawn on a map (empty otherwise).
    """

    group_labels: list = []

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def font_families() -> tuple[str, ...]:
    """The font families used for text, best first, among those installed.

    A family missing from matplotlib's font cache (installed after the cache was
    built) is looked up among the system's font files and registered.

    Examples
    --------
    >>> font_families()[0]
    'DejaVu Sans'
    """
    from matplotlib import font_manager

    known = {entry.name for entry in font_manager.fontManager.ttflist}
    system_files = None
    for family, file_names in _FONT_CANDIDATES.items():
        if family in known or not file_names:
            continue
        if system_files is None:
            system_files = {Path(p).name: p for p in font_manager.findSystemFonts()}
        for name in file_names:
            if name in system_files:
                try:
                    font_manager.fontManager.addfont(system_files[name])
                except (OSError, RuntimeError):
                    continue
        known = {entry.name for entry in font_manager.fontManager.ttflist}
    return tuple(family for family in _FONT_CANDIDATES if family in known)


@functools.lru_cache(maxsize=1)
def _covered_codepoints() -> frozenset[int]:
    return frozenset().union(*(_charmap(family) for family in font_families()))


def fonts_for(texts: Iterable[str]) -> tuple[list[str], str]:
    """Font families and weight for drawing ``texts``.

    DejaVu Sans first, then only the installed families needed for glyphs it lacks;
    the weight is bold when every chosen family has a bold face.

    Examples
    --------
    >>> fonts_for(["plain words"])
    (['DejaVu Sans'], 'bold')
    """
    from matplotlib import font_manager

    chars = {ord(c) for text in texts for c in text if not c.isspace()}
    chosen: list[str] = []
    for family in font_families():
        charmap = _charmap(family)
        if not chosen or chars & charmap:
            chosen.append(family)
            chars -= charmap
    bold = {
        entry.name
        for entry in font_manager.fontManager.ttflist
        if entry.weight in ("bold", 700) or str(entry.weight) == "700"
    }
    weight = "bold" if all(family in bold for family in chosen) else "normal"
    return chosen, weight


@functools.lru_cache(maxsize=16)
def _charmap(family: str) -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(family, fallback_to_default=False)
    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError):
        return frozenset()


def missing_glyphs(texts: Iterable[str]) -> list[str]:
    """Characters of ``texts`` that no installed font can draw (spaces ignored).

    Examples
    --------
    >>> missing_glyphs(["café"])
    []
    """
    covered = _covered_codepoints()
    missing = {
        char
        for text in texts
        for char in text
        if not char.isspace()
        and ord(char) not in covered
        and ord(char) > 0x20
        # Variation selectors and joiners shape emoji; they draw nothing.
        and not (0xFE00 <= ord(char) <= 0xFE0F or ord(char) in (0x200D, 0x20E3))
    }
    return sorted(missing)


def _warn_missing(texts: list[str]) -> None:
    missing = missing_glyphs(texts)
    if missing:
        logger.warning(
            "no installed font draws %s; they show as boxes in map.png (install "
            "fonts-noto-cjk and fonts-symbola, or another font holding them)",
            " ".join(missing[:20]),
        )


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


def _darker(colour: str, amount: float = 0.35) -> str:
    """``colour`` mixed with black, so pale group colours stay legible as text."""
    from matplotlib.colors import to_hex, to_rgb

    return to_hex(np.array(to_rgb(colour)) * (1 - amount))


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with ``$`` kept literal (no mathtext)."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return cut.replace("$", r"\$")


def _label_style(n_groups: int) -> tuple[float, int]:
    """Font size and longest label for a map of ``n_groups`` groups."""
    if n_groups <= 12:
        return 9.0, 40
    if n_groups <= 30:
        return 8.0, 30
    return 6.5, 24


def _place_labels(axes, texts: list, anchors: np.ndarray) -> None:
    """Move labels apart so none overlaps another, joined to their group by a line."""
    if len(texts) < 2:
        return
    from adjustText import adjust_text

    adjust_text(
        texts,
        target_x=anchors[:, 0],
        target_y=anchors[:, 1],
        ax=axes,
        expand=(1.15, 1.3),
        force_text=(0.3, 0.5),
        max_move=None,
        iter_lim=300,
        arrowprops={"arrowstyle": "-", "color": "#555555", "lw": 0.5},
    )
    _separate(axes, texts)


def _separate(axes, texts: list, max_rounds: int = 60) -> None:
    """Push apart labels that still overlap, vertically, the later label moving."""
    renderer = axes.figure.canvas.get_renderer()
    to_data = axes.transData.inverted()
    for _ in range(max_rounds):
        boxes = [text.get_window_extent(renderer).expanded(1.02, 1.1) for text in texts]
        moved = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if not boxes[i].overlaps(boxes[j]):
                    continue
                # Shift label j up or down by the overlap, away from label i.
                up = boxes[j].y0 + boxes[j].y1 >= boxes[i].y0 + boxes[i].y1
                step = (
                    (boxes[i].y1 - boxes[j].y0) if up else (boxes[i].y0 - boxes[j].y1)
                )
                x, y = texts[j].get_position()
                origin = axes.transData.transform((x, y))
                new = to_data.transform((origin[0], origin[1] + step * 1.05))
                texts[j].set_position((x, new[1]))
                boxes[j] = texts[j].get_window_extent(renderer).expanded(1.02, 1.1)
                moved = True
        if not moved:
            return


def label_overlaps(figure: Figure) -> list[tuple[str, str]]:
    """Pairs of group labels of a map whose boxes overlap (an empty list is good)."""
    renderer = figure.canvas.get_renderer()
    labels = list(getattr(figure, "group_labels", []))
    boxes = [text.get_window_extent(renderer) for text in labels]
    return [
        (labels[i].get_text(), labels[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def map_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    *,
    title: str = "",
    figsize: tuple[float, float] | None = None,
) -> MapFigure:
    """Scatter the 2-d map: one colour per group, a label beside each group.

    Parameters
    ----------
    coords : numpy.ndarray of shape (n_points, 2)
        Map coordinates.
    labels : numpy.ndarray of int, shape (n_points,)
        Group per point; ``-1`` (unclustered) is drawn in light grey underneath.
    names : dict
        Group id to label text.
    title : str, default=""
    figsize : tuple of float or None, default=None
        Inches; ``None`` is (10, 8), or (12, 10) past 30 groups.

    Returns
    -------
    MapFigure
        A :class:`matplotlib.figure.Figure`; its labels never overlap each other.

    Examples
    --------
    >>> coords = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> figure = map_figure(coords, np.array([0, 0, 1, -1]), {0: "cats", 1: "dogs"})
    >>> [t.get_text() for t in figure.group_labels]
    ['cats', 'dogs']
    """
    import matplotlib.patheffects as effects
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    groups = sorted(int(g) for g in np.unique(labels) if g >= 0)
    if figsize is None:
        figsize = (12.0, 10.0) if len(groups) > 30 else (10.0, 8.0)
    figure = MapFigure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = group_colours(len(groups))
    size = float(np.clip(8000 / max(len(coords), 1), 2, 40))
    fontsize, limit = _label_style(len(groups))
    shown = {g: _short(names.get(g, str(g)), limit) for g in groups}
    families, weight = fonts_for([*shown.values(), title])

    # Unclustered first, in grey, so groups are drawn over them.
    noise = labels < 0
    if noise.any():
        axes.scatter(
            *coords[noise].T,
            s=size,
            c=UNCLUSTERED_COLOUR,
            linewidths=0,
            label=f"unclustered ({int(noise.sum())} distinct texts)",
            rasterized=True,
        )
    for group, colour in zip(groups, colours, strict=True):
        members = labels == group
        axes.scatter(
            *coords[members].T,
            s=size,
            c=colour,
            linewidths=0,
            alpha=0.8,
            rasterized=True,
        )
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_aspect("equal", adjustable="datalim")

    # One label per group, started at its median point, outlined for contrast.
    anchors = np.array(
        [np.median(coords[labels == group], axis=0) for group in groups]
    ).reshape(-1, 2)
    texts = [
        axes.text(
            x,
            y,
            shown[group],
            fontsize=fontsize,
            family=families,
            ha="center",
            va="center",
            color=_darker(colour),
            weight=weight,
            zorder=5,
            path_effects=[effects.withStroke(linewidth=2.5, foreground="white")],
        )
        for group, colour, (x, y) in zip(groups, colours, anchors, strict=True)
    ]
    _warn_missing([t.get_text() for t in texts])
    _place_labels(axes, texts, anchors)
    figure.group_labels = texts

    if noise.any():
        axes.legend(loc="lower right", frameon=False, fontsize=8)
    if not groups:
        axes.set_title("No groups found: every text is unclustered", fontsize=10)
    elif len(coords) == 0:
        axes.set_title("No texts to draw", fontsize=10)
    if title:
        figure.suptitle(title, family=families)
    return figure


def sizes_figure(
    sizes: list[int],
    names: list[str],
    n_unclustered: int = 0,
) -> MapFigure:
    """Horizontal bars of group sizes, largest on top, in the map's colours.

    Parameters
    ----------
    sizes : list of int
        Rows per group, in group id order.
    names : list of str
        Group labels, in the same order.
    n_unclustered : int, default=0
        Drawn as a last grey bar when above zero.

    Returns
    -------
    MapFigure

    Examples
    --------
    >>> figure = sizes_figure([30, 20], ["cats", "dogs"], n_unclustered=5)
    >>> len(figure.axes[0].patches)
    3
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    colours = group_colours(len(sizes))
    bar_names = [f"{i}  {_short(n, 40)}" for i, n in enumerate(names)]
    families, _ = fonts_for(bar_names)
    values = list(sizes)
    if n_unclustered:
        bar_names.append("unclustered")
        values.append(n_unclustered)
        colours = [*colours, UNCLUSTERED_COLOUR]
    height = 1.2 + 0.28 * max(len(values), 1)
    figure = MapFigure(figsize=(8.0, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(len(values))[::-1]
    axes.barh(positions, values, color=colours, height=0.75)
    axes.set_yticks(positions, bar_names, fontsize=8, family=families)
    for position, value in zip(positions, values, strict=True):
        axes.text(value, position, f" {value}", va="center", fontsize=7)
    axes.set_xlabel("rows")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(x=0.1)
    if not values:
        axes.set_title("No groups found", fontsize=10)
    _warn_missing(bar_names)
    return figure
