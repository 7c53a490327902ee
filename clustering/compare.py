"""What changed between two runs: match their groups, keep old ids, report changes.

Groups are matched by their members (texts found in both runs) and by their
central sentences (an old group's central texts that land in a new group, and the
other way round). Each pair of groups gets a score::

    score = (jaccard + central) / 2

where ``jaccard`` is the overlap of the two groups' texts among the texts both runs
hold, and ``central`` the share of both groups' central texts (those present in
the other run) that fall in the other group. Pairs are matched one to one to
maximise the total score (Hungarian method); a pair scoring below
:data:`MIN_SCORE` is not a match.

A matched new group keeps its old id. Every group of either run gets a change:

``kept``, ``grown``, ``shrunk``
    matched; the size in rows changed by less than :data:`SIZE_CHANGE`, or grew or
    shrank by more.
``merged``
    a new group that took most of two or more old groups (the old groups that
    did not keep their id say ``merged`` too, naming the new group).
``split``
    an old group whose texts went mostly (together) to two or more new groups,
    each made mostly of its texts and holding at least :data:`PART` of it; the
    new groups that do not keep the old id say ``split`` too.
``new``
    a new group matching no old one: it gets an id no old group had.
``vanished``
    an old group with no match.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from clustering.errors import InputError

logger = logging.getLogger(__name__)

#: Lowest score of a matched pair.
MIN_SCORE = 0.3
#: Relative change in rows under which a matched group counts as ``kept``.
SIZE_CHANGE = 0.1
#: Share of a group that "most of" means in merges and splits.
MOST = 0.5
#: Share of an old group a new group must take to count as one of its parts.
PART = 0.05

CHANGES = ("kept", "grown", "shrunk", "merged", "split", "new", "vanished")
COMPARE_FILES = ("changes.csv", "changes.md", "changes.html")


@dataclass
class RunGroups:
    """The groups of one run, as :func:`compare_runs` needs them.

    Attributes
    ----------
    members : dict of int to set of str
        Group id to its distinct texts (``-1`` excluded).
    sizes : dict of int to int
        Group id to its rows.
    labels : dict of int to str
    central : dict of int to list of str
    texts : dict of str to int
        Every kept distinct text to its group (``-1`` unclustered).
    """

    members: dict[int, set[str]]
    sizes: dict[int, int]
    labels: dict[int, str]
    central: dict[int, list[str]]
    texts: dict[str, int] = field(repr=False, default_factory=dict)

    @classmethod
    def from_parts(
        cls, texts: list[str], labels: np.ndarray, counts: np.ndarray, groups: list
    ) -> RunGroups:
        """From distinct texts, their groups and rows, and group descriptions."""
        members: dict[int, set[str]] = {g.cluster_id: set() for g in groups}
        for text, label in zip(texts, labels, strict=True):
            if label >= 0:
                members.setdefault(int(label), set()).add(text)
        sizes = {g: 0 for g in members}
        for label, count in zip(labels, counts, strict=True):
            if label >= 0:
                sizes[int(label)] += int(count)
        return cls(
            members=members,
            sizes=sizes,
            labels={g.cluster_id: g.label for g in groups},
            central={g.cluster_id: list(g.central_texts) for g in groups},
            texts={t: int(label) for t, label in zip(texts, labels, strict=True)},
        )

    @classmethod
    def from_estimator(cls, model: object) -> RunGroups:
        """From a fitted :class:`~clustering.estimator.TextClusterer`."""
        return cls.from_parts(
            model.texts_, model.distinct_labels_, model.prepared_.counts, model.groups_
        )

    @classmethod
    def from_dir(cls, folder: str | os.PathLike) -> RunGroups:
        """From the files of a run (``run.json``, ``assignments.csv``,
        ``clusters.json``) written by ``clustering run`` or ``assign``."""
        from clustering.prepare import classify_cell
        from clustering.result import added_column_names

        folder = Path(folder)
        needed = ("run.json", "assignments.csv", "clusters.json")
        missing = [name for name in needed if not (folder / name).is_file()]
        if missing:
            raise InputError(
                f"{folder} is not a run folder: it has no {', '.join(missing)}; give "
                "a folder written by 'clustering run --out'"
            )
        info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        column = info["input"]["text_column"]
        names = added_column_names(info["input"]["columns"])
        frame = pd.read_csv(
            folder / "assignments.csv", dtype=str, keep_default_na=False
        )
        rows: dict[str, list] = {}
        for text, group in zip(frame[column], frame[names["cluster_id"]], strict=True):
            kept, _ = classify_cell(text)
            if kept is None or group == "":
                continue
            entry = rows.setdefault(kept, [int(group), 0])
            entry[1] += 1
        groups = json.loads((folder / "clusters.json").read_text(encoding="utf-8"))
        descriptions = [
            _Described(g["cluster_id"], g["label"], list(g["central_texts"]))
            for g in groups["clusters"]
        ]
        texts = sorted(rows)
        return cls.from_parts(
            texts,
            np.array([rows[t][0] for t in texts], dtype=np.int64),
            np.array([rows[t][1] for t in texts], dtype=np.int64),
            descriptions,
        )


@dataclass
class _Described:
    cluster_id: int
    label: str
    central_texts: list[str]


@dataclass
class Comparison:
    """The result of :func:`compare_runs`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group of either run: ``change``, ``old_id``, ``new_id`` (the
        id the new group keeps or gets; empty for a vanished group), ``old_label``,
        ``new_label``, ``old_size``, ``new_size``, ``shared_texts`` and ``detail``.
    new_ids : dict of int to int
        New run's own group id to the id it keeps or gets.
    counts : dict of str to int
        Groups per change.
    n_common : int
        Distinct texts found in both runs.
    n_moved : int
        Of those, texts whose group (after renumbering) differs between the runs.
    """

    table: pd.DataFrame
    new_ids: dict[int, int]
    counts: dict[str, int]
    n_common: int
    n_moved: int

    def to_markdown(self) -> str:
        """A short Markdown summary and the table."""
        return _render("changes.md.j2", self)

    def to_html(self) -> str:
        """A small self-contained HTML page: summary and table."""
        return _render("changes.html.j2", self)

    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write ``changes.csv``, ``changes.md`` and ``changes.html``."""
        from clustering.errors import OutputError

        out_dir = Path(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self.table.to_csv(out_dir / "changes.csv", index=False)
            (out_dir / "changes.md").write_text(self.to_markdown(), encoding="utf-8")
            (out_dir / "changes.html").write_text(self.to_html(), encoding="utf-8")
        except OSError as error:
            raise OutputError(f"cannot write to {out_dir}: {error}") from None
        return out_dir


def _render(name: str, comparison: Comparison) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("clustering", "templates"),
        autoescape=select_autoescape(["html.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    table = comparison.table.astype(object)
    rows = table.where(table.notna(), "").to_dict("records")
    return environment.get_template(name).render(
        c=comparison, rows=rows, changes=CHANGES
    )


def _scores(old: RunGroups, new: RunGroups) -> tuple[list, list, np.ndarray, dict]:
    """Score matrix (old groups x new groups) and the member overlaps."""
    common = set(old.texts) & set(new.texts)
    old_ids, new_ids = sorted(old.members), sorted(new.members)
    old_common = {o: old.members[o] & common for o in old_ids}
    new_common = {n: new.members[n] & common for n in new_ids}
    scores = np.zeros((len(old_ids), len(new_ids)))
    shared: dict[tuple[int, int], int] = {}
    for i, o in enumerate(old_ids):
        central_o = [t for t in old.central[o] if t in common]
        for j, n in enumerate(new_ids):
            both = len(old_common[o] & new_common[n])
            shared[(o, n)] = both
            union = len(old_common[o] | new_common[n])
            jaccard = both / union if union else 0.0
            central_n = [t for t in new.central[n] if t in common]
            hits = sum(new.texts.get(t) == n for t in central_o) + sum(
                old.texts.get(t) == o for t in central_n
            )
            present = len(central_o) + len(central_n)
            central = hits / present if present else 0.0
            scores[i, j] = (jaccard + central) / 2
    return (
        old_ids,
        new_ids,
        scores,
        {
            "shared": shared,
            "old_common": old_common,
            "new_common": new_common,
            "common": common,
        },
    )


def _size_change(old_size: int, new_size: int) -> str:
    if new_size > old_size * (1 + SIZE_CHANGE):
        return "grown"
    if new_size < old_size * (1 - SIZE_CHANGE):
        return "shrunk"
    return "kept"


def compare_runs(
    old: RunGroups | str | os.PathLike, new: RunGroups | str | os.PathLike
) -> Comparison:
    """Match the groups of two runs and say what changed.

    Parameters
    ----------
    old, new : RunGroups, or path of a run folder
        The earlier and the later run (folders written by ``clustering run``).

    Returns
    -------
    Comparison
        See the module's description for the rules.
    """
    from scipy.optimize import linear_sum_assignment

    old = old if isinstance(old, RunGroups) else RunGroups.from_dir(old)
    new = new if isinstance(new, RunGroups) else RunGroups.from_dir(new)
    old_ids, new_ids, scores, facts = _scores(old, new)
    shared, old_common, new_common = (
        facts["shared"],
        facts["old_common"],
        facts["new_common"],
    )

    def part_of_old(o: int, n: int) -> float:
        return shared[(o, n)] / len(old_common[o]) if old_common[o] else 0.0

    def part_of_new(o: int, n: int) -> float:
        return shared[(o, n)] / len(new_common[n]) if new_common[n] else 0.0

    # One-to-one matches that maximise the total score.
    matched: dict[int, int] = {}
    if scores.size:
        rows, cols = linear_sum_assignment(-scores)
        for i, j in zip(rows, cols, strict=True):
            if scores[i, j] >= MIN_SCORE:
                matched[new_ids[j]] = old_ids[i]
    matched_old = {o: n for n, o in matched.items()}

    # Merges (old groups mostly inside one new group) and splits (new groups
    # mostly made of one old group, each a real part of it).
    merged_into = {
        n: [o for o in old_ids if part_of_old(o, n) >= MOST] for n in new_ids
    }
    split_into = {}
    for o in old_ids:
        parts = [
            n
            for n in new_ids
            if part_of_new(o, n) >= MOST and part_of_old(o, n) >= PART
        ]
        together = sum(part_of_old(o, n) for n in parts)
        split_into[o] = parts if len(parts) >= 2 and together >= MOST else []

    # Ids: matched groups keep the old id; the others get fresh ones, larger
    # groups first.
    final: dict[int, int] = dict(matched)
    fresh = max(old_ids, default=-1) + 1
    for n in sorted(
        (n for n in new_ids if n not in matched), key=lambda n: (-new.sizes[n], n)
    ):
        final[n] = fresh
        fresh += 1

    records = []
    for n in new_ids:
        o = matched.get(n)
        sources = merged_into[n]
        if o is not None and len(sources) >= 2:
            change = "merged"
            detail = "took most of old groups " + ", ".join(map(str, sources))
        elif o is not None and len(split_into[o]) >= 2:
            change = "split"
            parts = ", ".join(str(final[p]) for p in split_into[o])
            detail = f"old group {o} split into {parts}"
        elif o is not None:
            change = _size_change(old.sizes[o], new.sizes[n])
            detail = ""
        else:
            parents = [p for p in old_ids if n in split_into[p]]
            if parents and len(split_into[parents[0]]) >= 2:
                change = "split"
                detail = f"split from old group {parents[0]}"
                o = parents[0]
            else:
                change, detail = "new", ""
        records.append(_record(change, o, final[n], old, new, n, shared, detail))
    reported = {r["old_id"] for r in records}
    for o in old_ids:
        if o in matched_old or o in reported:
            continue
        into = [n for n in new_ids if o in merged_into[n]]
        if into:
            n = into[0]
            detail = f"merged into new group {final[n]}"
            records.append(_record("merged", o, None, old, new, n, shared, detail))
        else:
            records.append(_record("vanished", o, None, old, new, None, shared, ""))

    columns = list(_record("new", None, None, old, new, None, {}, ""))
    table = pd.DataFrame(records, columns=columns)
    table["change"] = pd.Categorical(table["change"], CHANGES, ordered=True)
    table = table.sort_values(["change", "new_id", "old_id"], kind="stable")
    table["change"] = table["change"].astype(str)
    for name in ("old_id", "new_id", "old_size", "new_size"):
        table[name] = table[name].astype("Int64")
    counts = {c: int((table["change"] == c).sum()) for c in CHANGES}

    # Texts in both runs that changed group, after renumbering.
    common = facts["common"]
    moved = sum(
        old.texts[t] != (final.get(new.texts[t], -1) if new.texts[t] >= 0 else -1)
        for t in common
    )
    logger.info("compared runs: %s", counts)
    return Comparison(table.reset_index(drop=True), final, counts, len(common), moved)


def _record(
    change: str,
    o: int | None,
    new_id: int | None,
    old: RunGroups,
    new: RunGroups,
    n: int | None,
    shared: dict,
    detail: str,
) -> dict:
    is_new = change != "vanished" and not (change == "merged" and new_id is None)
    return {
        "change": change,
        "old_id": o,
        "new_id": new_id,
        "old_label": old.labels.get(o, "") if o is not None else "",
        "new_label": new.labels.get(n, "") if n is not None and is_new else "",
        "old_size": old.sizes.get(o) if o is not None else None,
        "new_size": new.sizes.get(n) if n is not None and is_new else None,
        "shared_texts": shared.get((o, n), 0) if o is not None and n is not None else 0,
        "detail": detail,
    }


def apply_ids(model: object, new_ids: dict[int, int]) -> None:
    """Renumber a fitted estimator's groups in place with ``new_ids``.

    Parameters
    ----------
    model : TextClusterer
        Fitted.
    new_ids : dict of int to int
        Its group id to the id to use (from :attr:`Comparison.new_ids`); ``-1``
        stays ``-1``.
    """

    def mapped(labels: np.ndarray) -> np.ndarray:
        return np.array([new_ids.get(int(g), -1) if g >= 0 else -1 for g in labels])

    model.labels_ = mapped(model.labels_)
    model.distinct_labels_ = mapped(model.distinct_labels_)
    model.clusters_.labels = model.distinct_labels_
    model.model_state_.labels = model.distinct_labels_
    for group in model.groups_:
        group.cluster_id = new_ids[group.cluster_id]
    model.groups_.sort(key=lambda g: g.cluster_id)
