"""Interactive charts for the HTML report, drawn with plotly and written offline.

Each function returns an HTML fragment (a ``<div>`` and the ``<script>`` that draws
into it) that expects plotly.js to be loaded once on the page; :func:`plotly_js`
gives the library itself, to be inlined so the report needs no network.

Every text shown in a chart is HTML-escaped first: plotly renders a small subset of
HTML in hover labels and legends, and a text holding tags must show as written.
"""

from __future__ import annotations

import html
import textwrap

import numpy as np
import pandas as pd

from clustering.plot import UNCLUSTERED_COLOUR, group_colours

HOVER_CHARS = 160
"""Longest text shown on hover (and searched); longer texts are cut with an ellipsis."""
HOVER_CHARS_LARGE = 100
"""The same limit on maps of more than ``LARGE_MAP`` texts, to keep the file small."""
LARGE_MAP = 20_000
_HOVER_WIDTH = 60
_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_js() -> str:
    """The plotly.js library bundled with the ``plotly`` package, as one string."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def hover_text(text: str, n_rows: int = 1, limit: int = HOVER_CHARS) -> str:
    """A text made safe and short for a hover label: escaped, cut, wrapped.

    Examples
    --------
    >>> hover_text("<b>bold</b> & more", n_rows=3)
    '&lt;b&gt;bold&lt;/b&gt; &amp; more<br><i>3 rows</i>'
    """
    short = " ".join(text.split())
    if len(short) > limit:
        short = short[: limit - 1] + "…"
    lines = textwrap.wrap(short, _HOVER_WIDTH) or [""]
    shown = "<br>".join(html.escape(line, quote=False) for line in lines)
    return shown + (f"<br><i>{n_rows} rows</i>" if n_rows > 1 else "")


def _fragment(figure, div_id: str, config: dict | None = None) -> str:
    return figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={**_CONFIG, **(config or {})},
    )


def map_html(
    texts: list[str],
    coords: np.ndarray,
    labels: np.ndarray,
    counts: np.ndarray,
    names: dict[int, str],
    *,
    div_id: str = "map",
) -> str:
    """The map of all texts as a plotly WebGL scatter, one legend entry per group.

    Parameters
    ----------
    texts : list of str, length n_points
        Distinct texts.
    coords : numpy.ndarray of shape (n_points, 2)
        Map coordinates.
    labels : numpy.ndarray of int, shape (n_points,)
        Group per text; ``-1`` is unclustered (light grey, drawn first).
    counts : numpy.ndarray of int, shape (n_points,)
        Rows holding each text.
    names : dict
        Group id to label.
    div_id : str, default="map"

    Returns
    -------
    str
        HTML fragment. Clicking a legend entry hides or shows that group;
        coordinates are sent as float32; hover texts are cut to ``HOVER_CHARS``
        characters (``HOVER_CHARS_LARGE`` past ``LARGE_MAP`` texts).
    """
    import plotly.graph_objects as go

    groups = sorted(int(g) for g in np.unique(labels) if g >= 0)
    colours = group_colours(len(groups))
    coords = np.asarray(coords, dtype=np.float32)
    size = float(np.clip(120 / np.sqrt(max(len(texts), 1)), 3, 8))
    limit = HOVER_CHARS if len(texts) <= LARGE_MAP else HOVER_CHARS_LARGE
    figure = go.Figure()
    traces = [(-1, UNCLUSTERED_COLOUR, "unclustered")] + [
        (g, c, f"{g} · {names.get(g, str(g))}")
        for g, c in zip(groups, colours, strict=True)
    ]
    for group, colour, name in traces:
        members = np.flatnonzero(labels == group)
        if len(members) == 0:
            continue
        figure.add_trace(
            go.Scattergl(
                x=coords[members, 0],
                y=coords[members, 1],
                mode="markers",
                name=html.escape(f"{name} ({int(counts[members].sum())})"),
                text=[hover_text(texts[i], int(counts[i]), limit) for i in members],
                hovertemplate="%{text}<extra>%{fullData.name}</extra>",
                marker={"color": colour, "size": size, "opacity": 0.8},
                selected={"marker": {"size": size * 1.8, "opacity": 1.0}},
                unselected={"marker": {"opacity": 0.07}},
                meta={"group": group},
            )
        )
    figure.update_layout(
        height=640,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        plot_bgcolor="white",
        paper_bgcolor="white",
        dragmode="pan",
        hovermode="closest",
        legend={"itemsizing": "constant", "title": {"text": "groups (click to hide)"}},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
    )
    return _fragment(figure, div_id, {"scrollZoom": True})


def sizes_html(
    sizes: list[int], names: list[str], n_unclustered: int, *, div_id: str = "sizes"
) -> str:
    """Horizontal bars of group sizes (rows), largest on top, in the map's colours."""
    import plotly.graph_objects as go

    colours = group_colours(len(sizes))
    bar_names = [html.escape(f"{i} · {n[:40]}") for i, n in enumerate(names)]
    values = list(sizes)
    if n_unclustered:
        bar_names.append("unclustered")
        values.append(n_unclustered)
        colours = [*colours, UNCLUSTERED_COLOUR]
    figure = go.Figure(
        go.Bar(
            x=values[::-1],
            y=bar_names[::-1],
            orientation="h",
            marker={"color": colours[::-1]},
            text=values[::-1],
            textposition="outside",
            hovertemplate="%{y}: %{x} rows<extra></extra>",
        )
    )
    figure.update_layout(
        height=120 + 22 * len(values),
        margin={"l": 10, "r": 30, "t": 10, "b": 30},
        plot_bgcolor="white",
        xaxis={"title": {"text": "rows"}},
        yaxis={"automargin": True},
    )
    return _fragment(figure, div_id)


def breakdown_html(table: pd.DataFrame, by: str, *, div_id: str = "breakdown") -> str:
    """Each group's share of the rows per value of the ``by`` column.

    ``table`` is :func:`clustering.breakdown.breakdown_table`'s output. Categories
    give stacked horizontal bars (one bar per value, shares adding to 100%); date
    periods give stacked bars over time, in rows.
    """
    import plotly.graph_objects as go

    group_ids = sorted(g for g in table["cluster_id"].unique() if g >= 0)
    colours = dict(zip(group_ids, group_colours(len(group_ids)), strict=True))
    colours[-1] = UNCLUSTERED_COLOUR
    over_time = table.attrs.get("kind") == "date"
    values = table.attrs.get("values") or list(dict.fromkeys(table["value"]))
    figure = go.Figure()
    for group in [*group_ids, -1]:
        part = table[table["cluster_id"] == group].set_index("value")
        if part.empty:
            continue
        part = part.reindex(values)
        name = html.escape(f"{group} · {part['cluster_label'].dropna().iloc[0]}")
        if group < 0:
            name = "unclustered"
        shown = part["rows"] if over_time else 100 * part["share_of_value"]
        axis = [html.escape(str(v)) for v in values]
        figure.add_trace(
            go.Bar(
                x=axis if over_time else shown.fillna(0).to_numpy(),
                y=shown.fillna(0).to_numpy() if over_time else axis,
                orientation="v" if over_time else "h",
                name=name,
                marker={"color": colours[group]},
                hovertemplate=(
                    "%{x}: %{y} rows<extra>%{fullData.name}</extra>"
                    if over_time
                    else "%{y}: %{x:.1f}%<extra>%{fullData.name}</extra>"
                ),
            )
        )
    figure.update_layout(
        barmode="stack",
        height=max(360, 120 + 24 * len(values)) if not over_time else 420,
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        plot_bgcolor="white",
        legend={"title": {"text": "groups"}, "traceorder": "normal"},
        xaxis={"title": {"text": by if over_time else "% of rows"}},
        yaxis={
            "title": {"text": "rows" if over_time else html.escape(by)},
            "automargin": True,
            "autorange": True if over_time else "reversed",
        },
    )
    return _fragment(figure, div_id)
