"""How often ``predict`` on the fitted rows returns the fitted groups.

Fits the default model on each shared data set given, then places the fitted texts
again: once as ``predict`` does (a known text keeps its group) and once by geometry
alone (UMAP transform and HDBSCAN approximate prediction, the path new texts take).

    PYTHONPATH=. python benchmarks/predict_agreement.py \
        ../shared/data/wordnet_core.csv \
        ../shared/data/debian_topics_small.csv
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from clustering import TextClusterer
from clustering.assign import place_texts


def measure(path: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    model = TextClusterer(show_progress=False).fit(frame["text"])
    started = time.perf_counter()
    labels = model.predict(frame["text"])
    seconds = time.perf_counter() - started
    state = model.model_state_
    geometric = place_texts(
        state, state.texts, state.vectors, known_texts_keep_group=False
    ).labels
    fitted = state.labels
    clustered = fitted >= 0
    print(
        f"{path}: {len(frame)} rows, {model.n_clusters_} groups, "
        f"{(~clustered).mean():.1%} unclustered\n"
        f"  predict agrees on {(labels == model.labels_).mean():.2%} of rows "
        f"({seconds:.1f} s)\n"
        f"  geometry alone: {(geometric == fitted).mean():.2%} of distinct texts; "
        f"{(geometric[clustered] == fitted[clustered]).mean():.2%} of clustered, "
        f"{(geometric[~clustered] < 0).mean():.2%} of unclustered stay unclustered"
    )


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        measure(argument)
