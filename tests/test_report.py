"""The report people read: files, breakdowns, Markdown, and the page in Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from markupsafe import escape

import clustering
from clustering import interactive
from clustering.breakdown import MAX_CATEGORIES, OTHER, breakdown_table, parse_dates
from clustering.cli import main

HTML_LABEL = "<i>fish</i> & <b>chips</b>"
HTML_TEXT = "<b>not bold</b><script>window.injected = 1</script> & more"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def report(wordnet_sample, tmp_path_factory):
    """A real run on 400 WordNet rows plus rows holding HTML, broken down by label.

    One group's label and one central text are then given HTML, as a hostile text
    would, to check that every view shows them as text.
    """
    frame = wordnet_sample.copy()
    extra = pd.DataFrame(
        {
            "id": ["h1", "h2", "s1"],
            "text": [
                "<b>salmon</b>: a fish & food <script>window.injected=2</script>",
                "<img src=x onerror='window.injected=3'> trout, a fish",
                "   ",
            ],
            "label": ["noun.food", "noun.animal", "noun.food"],
        }
    )
    frame = pd.concat([frame, extra], ignore_index=True)
    result = clustering.cluster_texts(
        frame, "text", by="label", show_progress=False, random_state=1
    )
    result.groups[0].label = HTML_LABEL
    result.groups[0].central_texts.insert(0, HTML_TEXT)
    out = result.save(tmp_path_factory.mktemp("report") / "out")
    return result, out


def test_every_file_is_written(report):
    result, out = report
    for name in clustering.report.OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "map.svg").read_text().lstrip().startswith("<?xml")
    assert (out / "sizes.png").read_bytes()[:4] == b"\x89PNG"
    html = (out / "report.html").read_text()
    assert "<script src" not in html and "<link" not in html
    assert html.count('<article class="card"') == result.n_clusters
    assert "<script>window.injected" not in html and "<img src=x" not in html
    assert "<b>not bold</b>" not in html and "&lt;b&gt;not bold&lt;/b&gt;" in html


def test_summary_counts_and_parameters(report):
    result, out = report
    html = (out / "report.html").read_text()
    counts = result.run_info["counts"]
    assert counts["rows"] == 403 and counts["skipped"] == 1
    for shown in (
        f"<b>{counts['rows']}</b>rows read",
        f"<b>{counts['kept']}</b>rows kept",
        f"<b>{counts['groups']}</b>groups",
        "<code>empty</code> 1",
        "all-MiniLM-L6-v2",
        f"<th>min_cluster_size</th><td>{result.run_info['fitted']['min_cluster_size']}",
    ):
        assert shown in html, shown


def test_unclustered_rows_are_listed_most_frequent_first(report):
    result, out = report
    html = (out / "report.html").read_text()
    table = result.assignments
    alone = table[table.status == "unclustered"]
    assert len(alone) >= 1  # 400 glosses always leave some rows out
    assert '<section id="unclustered">' in html
    assert f"{len(alone)} kept rows fit no group" in html
    listed = clustering.report.unclustered_texts(result)
    assert len(listed) == min(alone.text.nunique(), clustering.report.N_UNCLUSTERED)
    rows = alone.text.value_counts()
    assert [n for _, n in listed] == sorted(rows.to_numpy(), reverse=True)[
        : len(listed)
    ]
    assert {text for text, _ in listed} <= set(alone.text)
    assert str(escape(listed[0][0])) in html


def test_breakdown_csv_counts_every_kept_row(report):
    result, out = report
    table = pd.read_csv(out / "breakdown.csv")
    assert list(table.columns) == [
        "value",
        "cluster_id",
        "cluster_label",
        "rows",
        "share_of_value",
        "share_of_group",
    ]
    assert table["rows"].sum() == result.run_info["counts"]["kept"]
    assert set(table["value"]) == set(result.assignments["label"])
    np.testing.assert_allclose(table.groupby("value")["share_of_value"].sum(), 1, 0.01)
    html = (out / "report.html").read_text()
    assert 'id="breakdown"' in html and "Groups by <code>label</code>" in html


def test_markdown_report(report):
    result, out = report
    text = (out / "report.md").read_text()
    assert text.startswith("# Groups in")
    assert f"- rows read: {result.run_info['counts']['rows']}" in text
    assert "&lt;i&gt;fish&lt;/i&gt; &amp; &lt;b&gt;chips&lt;/b&gt;" in text
    for group in result.groups[1:]:
        assert f"### {group.cluster_id}. " in text
        assert group.central_texts[0].split()[0] in text
    assert "## Groups by `label`" in text


def test_force_without_by_removes_an_old_breakdown(report, tmp_path):
    result, out = report
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    result.breakdown = None
    try:
        result.save(copy, force=True)
    finally:
        result.breakdown = pd.read_csv(out / "breakdown.csv")
    assert not (copy / "breakdown.csv").exists()


def test_cli_by_unknown_column_is_a_one_line_error(tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": ["a cat", "a dog"], "team": ["x", "y"]}).to_csv(
        source, index=False
    )
    run = CliRunner().invoke(
        main, ["run", str(source), "--out", str(tmp_path / "o"), "--by", "teem"]
    )
    assert run.exit_code == 1
    assert run.output.strip().splitlines() == [
        "Error: --by (by=): no column 'teem' in the input; its columns are "
        "'text', 'team'"
    ]


def test_day_and_month_are_read_one_way_for_the_whole_column():
    # 17/03 can only be day first, so 12/02 is the 12th of February, not 2
    # December; ISO dates stay year-month-day; offsets are moved to UTC.
    cells = ["2024-05-30", "17/03/2024", "12/02/2024", "06/03/2024", "", "2024-01-11"]
    cells.append("2024-05-06T10:00:00+02:00")
    parsed = parse_dates(pd.Series(cells))
    expected = ["2024-05-30", "2024-03-17", "2024-02-12", "2024-03-06", None]
    expected += ["2024-01-11", "2024-05-06 08:00"]
    assert parsed.tolist()[:4] == [pd.Timestamp(d) for d in expected[:4]]
    assert pd.isna(parsed[4])
    assert parsed.tolist()[5:] == [pd.Timestamp(d) for d in expected[5:]]
    month_first = parse_dates(pd.Series(["03/17/2024", "12/02/2024"]))
    assert month_first.tolist() == [
        pd.Timestamp("2024-03-17"),
        pd.Timestamp("2024-12-02"),
    ]


@pytest.mark.parametrize(
    ("dates", "bucket", "first"),
    [
        (pd.date_range("2024-03-01", periods=40, freq="D"), "day", "2024-03-01"),
        (
            pd.date_range("2024-01-01", periods=40, freq="7D"),
            "week",
            "week of 2024-01-01",
        ),
        (pd.date_range("2020-01-15", periods=40, freq="40D"), "month", "2020-01"),
    ],
)
def test_dates_are_bucketed_by_their_span(dates, bucket, first):
    values = pd.Series(dates.strftime("%Y-%m-%d %H:%M"))
    labels = np.arange(40) % 3 - 1
    table = breakdown_table(values, labels, [str(g) for g in labels])
    assert table.attrs["kind"] == "date" and table.attrs["bucket"] == bucket
    assert table.attrs["values"][0] == first
    assert table["rows"].sum() == 40
    assert list(dict.fromkeys(table["value"])) == [
        v for v in table.attrs["values"] if v in set(table["value"])
    ]


def test_categories_numbers_and_missing_values():
    assert parse_dates(pd.Series(["1", "2", "2021"])) is None
    values = pd.Series([f"team {i % 40}" for i in range(400)] + ["", None])
    table = breakdown_table(values, np.zeros(402, dtype=int), ["g"] * 402)
    assert table.attrs["kind"] == "category"
    assert len(table) == MAX_CATEGORIES + 2
    assert {OTHER, "(missing)"} <= set(table["value"])
    assert table["rows"].sum() == 402


def test_map_of_50000_texts_stays_small():
    """The map's share of report.html at 50,000 texts, with 160-character texts."""
    rng = np.random.default_rng(0)
    n = 50_000
    texts = [f"{i} " + "a short support ticket about a crash " * 5 for i in range(n)]
    fragment = interactive.map_html(
        texts,
        rng.normal(size=(n, 2)),
        rng.integers(-1, 40, n),
        np.ones(n, dtype=int),
        {g: f"group {g}" for g in range(40)},
    )
    size_mb = len(fragment.encode()) / 1e6
    assert size_mb < 7.0, size_mb
    assert len(interactive.plotly_js()) < 5.5e6


def _open_in_chromium(path: Path, profile: Path):
    """Load ``path`` in headless Chromium; return (playwright, context, page, log)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1300, "height": 900},
    )
    page = context.new_page()
    log = {"errors": [], "requests": []}
    page.on("console", lambda m: m.type == "error" and log["errors"].append(m.text))
    page.on("pageerror", lambda error: log["errors"].append(str(error)))
    page.on("request", lambda request: log["requests"].append(request.url))
    page.goto(path.as_uri())
    page.wait_for_function("document.getElementById('map')?._fullLayout !== undefined")
    return playwright, context, page, log


def test_report_in_headless_chromium(report, tmp_path):
    result, out = report
    playwright, context, page, log = _open_in_chromium(
        out / "report.html", tmp_path / "profile"
    )
    try:
        # The map: one trace per group plus the unclustered, drawn with WebGL.
        n_traces = page.evaluate("document.getElementById('map').data.length")
        assert n_traces == result.n_clusters + 1
        assert page.locator("#map canvas").count() >= 1
        assert page.locator("#sizes .bars path").count() == result.n_clusters + 1
        assert page.locator("#breakdown .bars path").count() > 0

        # Every card is on the page, with its label and texts.
        cards = page.locator("article.card")
        assert cards.count() == result.n_clusters
        for i in range(result.n_clusters):
            box = cards.nth(i).bounding_box()
            assert box and box["height"] > 80 and box["width"] > 200
        examples = page.locator("article.card details").first
        examples.locator("summary").click()
        assert examples.locator("li").first.is_visible()

        # HTML inside texts and labels shows as text, nowhere as markup.
        assert page.evaluate("window.injected") is None
        first = page.locator("#group-0")
        assert first.locator("h3").inner_text() == HTML_LABEL
        assert first.locator("ol.central li").first.inner_text() == HTML_TEXT
        assert first.locator("b:not(.unstable), i, script").count() == 0
        legend = page.locator("#map .legendtext").nth(1).text_content()
        assert legend.startswith(f"0 · {HTML_LABEL}")
        # (zoomed in on the text holding HTML, so that no other dot is nearer)
        spot = page.evaluate(
            """async () => {
              const map = document.getElementById('map');
              map.scrollIntoView();
              for (const trace of map._fullData) {
                const p = trace.text.findIndex(t => t.includes('salmon'));
                if (p < 0) { continue; }
                const x = trace.x[p], y = trace.y[p];
                await Plotly.relayout(map, {'xaxis.range': [x - 0.002, x + 0.002],
                                            'yaxis.range': [y - 0.002, y + 0.002]});
                const box = map.getBoundingClientRect();
                const xa = map._fullLayout.xaxis, ya = map._fullLayout.yaxis;
                return [box.left + xa._offset + xa.l2p(x),
                        box.top + ya._offset + ya.l2p(y)];
              }
            }"""
        )
        page.mouse.move(spot[0] - 20, spot[1] - 20)
        page.mouse.move(*spot)
        page.wait_for_selector("#map .hoverlayer .hovertext")
        hovered = page.text_content("#map .hoverlayer")
        assert "<b>salmon</b>: a fish & food<script>" in hovered
        page.evaluate(
            "Plotly.relayout('map', {'xaxis.autorange': true, 'yaxis.autorange': true})"
        )

        # Clicking a legend entry hides that group; clicking again shows it.
        entry = page.locator("#map .legend .traces").nth(1)
        entry.click()
        page.wait_for_function(
            "document.getElementById('map').data[1].visible === 'legendonly'"
        )
        page.wait_for_timeout(600)  # two quick clicks would be a double-click
        entry.click()
        page.wait_for_function(
            "document.getElementById('map').data[1].visible === true"
        )

        # Searching highlights the matching texts and counts them.
        page.fill("#search", "fish")
        page.wait_for_function("document.getElementById('search-count').textContent")
        expected = sum("fish" in t.lower() for t in result.estimator.texts_)
        assert page.text_content("#search-count") == f"{expected} matching texts"
        selected = page.evaluate(
            "document.getElementById('map').data.map(t => t.selectedpoints.length)"
        )
        assert sum(selected) == expected
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        page.fill("#search", "")
        page.wait_for_timeout(400)
        assert page.text_content("#search-count") == ""
    finally:
        context.close()
        playwright.stop()

    # Nothing but the file itself was fetched, and nothing went wrong.
    assert log["requests"] == [(out / "report.html").as_uri()]
    assert log["errors"] == []
    assert (tmp_path / "report.png").stat().st_size > 50_000
    json.dumps(log)
