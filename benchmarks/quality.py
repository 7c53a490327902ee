"""How well the groups agree with human labels: baseline, k-means, our defaults.

For each evaluation file of ``../shared/data`` (see its README) this embeds the
texts once with the default model, then groups the same vectors three ways:

- baseline: UMAP(n_neighbors=15, n_components=5, min_dist=0, cosine, seeded) +
  HDBSCAN(min_cluster_size=10, eom), the defaults most tools copy;
- k-means told the true number of groups (a reference no user has);
- ours: :func:`clustering.cluster_texts` with its defaults.

The ``label`` column is used only to score; it never reaches the pipeline.
Targets for ours: NMI at least halfway from the baseline to k-means and never
below the baseline, ARI not below the baseline's, unclustered share <= 20%.

Run from the repository root: ``python benchmarks/quality.py [--seeds 42,1,2]``;
with several seeds it also prints the mean of each figure over the seeds, which is
what to compare (one seed moves NMI by a few hundredths).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))  # measure this checkout, not an installed copy
EVALUATION_FILES = ("wordnet_core.csv", "emoji.csv", "debian_topics_small.csv")


def scores(truth: np.ndarray, labels: np.ndarray) -> dict:
    """Groups, unclustered share and agreement (``-1`` counts as one group)."""
    return {
        "groups": int(labels.max()) + 1,
        "unclustered": float((labels < 0).mean()),
        "ARI": metrics.adjusted_rand_score(truth, labels),
        "NMI": metrics.normalized_mutual_info_score(truth, labels),
        "homog": metrics.homogeneity_score(truth, labels),
        "compl": metrics.completeness_score(truth, labels),
    }


def baseline(vectors: np.ndarray, seed: int) -> np.ndarray:
    import hdbscan
    import umap

    reduced = umap.UMAP(
        n_neighbors=15,
        n_components=5,
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
    ).fit_transform(vectors)
    return hdbscan.HDBSCAN(min_cluster_size=10).fit_predict(reduced)


def kmeans(vectors: np.ndarray, n_groups: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_groups, n_init=10, random_state=seed).fit_predict(vectors)


def ours(texts: list[str], vectors: np.ndarray, seed: int) -> tuple[np.ndarray, dict]:
    import clustering

    result = clustering.cluster_texts(
        texts, embeddings=vectors, random_state=seed, show_progress=False
    )
    labels = result.assignments["cluster_id"].to_numpy(dtype=int)
    return labels, result.run_info


def evaluate(path: Path, seed: int, precision: str = "auto") -> list[dict]:
    """Rows of the table for one file."""
    from clustering.embed import Embedder

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    texts, truth = frame["text"].tolist(), frame["label"].to_numpy()
    vectors = Embedder(show_progress=False, precision=precision).embed(texts)

    rows = []
    started = time.perf_counter()
    rows.append({"method": "baseline"} | scores(truth, baseline(vectors, seed)))
    rows[-1]["seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    k = len(set(truth))
    rows.append({"method": f"k-means k={k}"} | scores(truth, kmeans(vectors, k, seed)))
    rows[-1]["seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    labels, info = ours(texts, vectors, seed)
    rows.append({"method": "ours"} | scores(truth, labels))
    rows[-1]["seconds"] = time.perf_counter() - started
    rows[-1]["search_s"] = info["timings_s"]["cluster"]
    fitted = info["fitted"]
    rows[-1]["chosen"] = (
        f"mcs={fitted['min_cluster_size']} ms={fitted['min_samples']} "
        f"{fitted['cluster_selection_method']}"
    )
    for row in rows:
        row["file"] = path.name
    return rows


def verdict(rows: list[dict]) -> str:
    """Whether ours meets the targets on this file."""
    base, ref, mine = rows
    nmi_goal = max(base["NMI"], (base["NMI"] + ref["NMI"]) / 2)
    checks = {
        f"NMI>={nmi_goal:.3f}": mine["NMI"] >= nmi_goal,
        f"ARI>={base['ARI']:.3f}": mine["ARI"] >= base["ARI"],
        "unclustered<=20%": mine["unclustered"] <= 0.20,
    }
    return ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in checks.items())


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="42", help="comma-separated seeds")
    parser.add_argument("--precision", default="auto", help="of the embedding model")
    parser.add_argument("files", nargs="*", default=list(EVALUATION_FILES))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    table = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        verdicts = {}
        for name in args.files:
            rows = evaluate(DATA / name, seed, args.precision)
            for row in rows:
                row["seed"] = seed
            table.extend(rows)
            verdicts[name] = verdict(rows)
        print(f"\n=== seed {seed} ===")
        print_table(pd.DataFrame(table[-3 * len(args.files) :]))
        for name, text in verdicts.items():
            print(f"{name}: {text}")
    frame = pd.DataFrame(table)
    if frame["seed"].nunique() > 1:
        print(f"\n=== mean over seeds {args.seeds} ===")
        numbers = ["groups", "unclustered", "ARI", "NMI", "homog", "compl", "seconds"]
        mean = frame.groupby(["file", "method"], sort=False)[numbers].mean()
        print_table(mean.reset_index())
    return frame


def print_table(frame: pd.DataFrame) -> None:
    columns = ["groups", "unclustered", "ARI", "NMI", "homog", "compl", "seconds"]
    shown = frame.set_index(["file", "method"])[columns]
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(shown.to_string(float_format=lambda v: f"{v:.3f}"))
    for _, row in frame.iterrows():
        if row["method"] == "ours" and isinstance(row.get("chosen"), str):
            print(
                f"{row['file']}: chose {row['chosen']}; "
                f"search and clustering took {row['search_s']:.1f}s"
            )


if __name__ == "__main__":
    main()
