"""Static plots: readable for 0 to 60 groups, in any script, on the Agg backend."""

import io
import warnings

import numpy as np
import pytest
from matplotlib.colors import to_rgb

import clustering
from clustering.plot import (
    font_families,
    fonts_for,
    group_colours,
    label_overlaps,
    map_figure,
    missing_glyphs,
    sizes_figure,
)

WORDS = (
    "music audio video games science math fonts editors mail database electronics "
    "radio version tex python library kernel driver network printer"
).split()


def crowded_map(n_groups: int, seed: int = 0):
    """Groups of points close together, with long keyword labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, 2)) * 5
    per = 60
    coords = np.vstack(
        [c + rng.normal(size=(per, 2)) * 0.5 for c in centres]
        + [rng.normal(size=(200, 2)) * 8]
    )
    labels = np.concatenate([np.repeat(np.arange(n_groups), per), np.full(200, -1)])
    names = {g: ", ".join(rng.choice(WORDS, 3, replace=False)) for g in range(n_groups)}
    return coords, labels, names


def png_of(figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph warns: fail on it
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.mark.parametrize("n_groups", [30, 60])
def test_many_groups_labels_apart_and_colours_distinct(n_groups, tmp_path):
    coords, labels, names = crowded_map(n_groups)
    figure = map_figure(coords, labels, names)
    assert label_overlaps(figure) == []
    assert len(figure.group_labels) == n_groups

    # Every pair of group colours differs clearly (RGB distance > 0.1 of 1.73).
    rgb = np.array([to_rgb(c) for c in group_colours(n_groups)])
    gaps = np.linalg.norm(rgb[:, None] - rgb[None], axis=-1)
    assert gaps[~np.eye(n_groups, dtype=bool)].min() > 0.1

    # Each label stays inside the axes.
    renderer = figure.canvas.get_renderer()
    frame = figure.axes[0].get_window_extent(renderer)
    for text in figure.group_labels:
        box = text.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1
    figure.savefig(tmp_path / "map.png")
    figure.savefig(tmp_path / "map.svg")
    assert (tmp_path / "map.svg").read_text().startswith("<?xml")


@pytest.mark.parametrize("n_groups", [0, 1, 2])
def test_few_groups_give_a_sensible_picture(n_groups):
    coords, labels, names = crowded_map(max(n_groups, 1))
    if n_groups == 0:
        labels = np.full(len(labels), -1)
    figure = map_figure(coords, labels, names)
    assert len(figure.group_labels) == n_groups
    title = figure.axes[0].get_title()
    assert ("No groups found" in title) == (n_groups == 0)
    assert png_of(figure).startswith(b"\x89PNG")


def test_no_points_at_all():
    figure = map_figure(np.zeros((0, 2)), np.zeros(0, dtype=int), {})
    assert png_of(figure).startswith(b"\x89PNG")


def test_fonts_for_cjk_accents_and_emoji():
    assert font_families()[0] == "DejaVu Sans"
    assert "Noto Sans CJK JP" in font_families(), "install fonts-noto-cjk"
    assert "Symbola" in font_families(), "install fonts-symbola"
    texts = ["猫, 犬, ペット", "天气, 下雨", "café, naïve, Ærø", "🐱 ☀ 🎵", "한국어"]
    assert missing_glyphs(texts) == []
    families, _ = fonts_for(["plain"])
    assert families == ["DejaVu Sans"]
    families, _ = fonts_for(texts)
    assert {"Noto Sans CJK JP", "Symbola"} <= set(families)


def test_cjk_and_emoji_labels_draw_without_missing_glyphs():
    coords, labels, _ = crowded_map(4)
    names = {
        0: "猫, 犬, ペット",
        1: "音楽, ギター",
        2: "天气, 下雨, 太阳 ☀",
        3: "café 🐱",
    }
    figure = map_figure(coords, labels, names, title="東京 · 北京")
    assert png_of(figure).startswith(b"\x89PNG")
    sizes = sizes_figure([60, 60, 60, 60], list(names.values()), n_unclustered=200)
    assert png_of(sizes).startswith(b"\x89PNG")
    assert len(sizes.axes[0].patches) == 5


def test_chinese_and_japanese_run_shows_the_characters(tmp_path):
    """End to end with the real model: the map's labels hold the CJK words."""
    foods = ["饺子", "面条", "米饭", "包子", "火锅", "寿司", "ラーメン", "天ぷら"]
    weather = ["下雨", "下雪", "晴天", "刮风", "雨が降る", "雪が降る", "晴れ", "台風"]
    texts = [f"我喜欢吃{f}。{f}很好吃" for f in foods] + [
        f"{f}を食べるのが好きです" for f in foods
    ]
    texts += [f"今天{w}，天气很冷" for w in weather] + [
        f"明日は{w}でしょう、天気予報" for w in weather
    ]
    result = clustering.cluster_texts(
        texts, min_cluster_size=5, show_progress=False, random_state=0
    )
    assert result.n_clusters >= 1
    drawn = [t.get_text() for t in result.plot().group_labels]
    assert any("\u3040" <= c <= "\u9fff" for label in drawn for c in label)
    assert missing_glyphs(drawn) == []
    assert png_of(result.plot()).startswith(b"\x89PNG")
    result.save(tmp_path / "out")
    assert (tmp_path / "out" / "map.png").stat().st_size > 10_000
