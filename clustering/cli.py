"""Command-line interface: a thin shell over :mod:`clustering.pipeline`.

Heavy libraries are imported only inside commands, so ``clustering --help``
answers at once.
"""

from __future__ import annotations

import logging
import sys

import click

from clustering.errors import ClusteringError


def _configure_logging(verbose: bool, quiet: bool) -> None:
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("clustering")
    root.handlers[:] = [handler]
    root.setLevel(level)


#: The command-line flag of each option named in a ParameterError.
_FLAGS = {
    "text_column": "--text-column",
    "model": "--model",
    "min_cluster_size": "--min-cluster-size",
    "min_samples": "--min-samples",
    "n_neighbors": "--n-neighbors",
    "random_state": "--seed",
    "cache_dir": "--cache-dir",
    "long_texts": "--long-texts",
    "precision": "--precision",
    "format": "--format",
    "encoding": "--encoding",
    "delimiter": "--delimiter",
    "sheet": "--sheet",
    "on_bad_lines": "--on-bad-lines",
    "cluster_selection_method": "--selection-method",
    "stability_repeats": "--stability-repeats",
    "assign_noise": "--assign-noise",
    "label_column": "--label-column",
}


class _Group(click.Group):
    """Turns library errors and usage errors into one line on stderr and a
    non-zero exit."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ClusteringError as error:
            if ctx.meta.get("verbose"):
                raise
            flag = _FLAGS.get(getattr(error, "name", None))
            prefix = f"{flag}: " if flag else ""
            click.echo(f"Error: {prefix}{error}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted: no report was written.", err=True)
            sys.exit(130)


def _cache_and_output_options(command):
    """The options ``run``, ``fit`` and ``assign`` share: caches, --force and
    how much is printed."""
    options = [
        click.option(
            "--cache-dir",
            default=None,
            type=click.Path(file_okay=False),
            help="Cache folder of vectors and finished reductions (default: the "
            "user cache folder).",
        ),
        click.option(
            "--no-cache", is_flag=True, help="Neither read nor write the caches."
        ),
        click.option(
            "--force", is_flag=True, help="Replace a report already in --out."
        ),
        click.option(
            "--quiet", "-q", is_flag=True, help="No progress bars and no summary."
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            help="Log each stage; show tracebacks on errors.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clustering")
def main() -> None:
    """Find the groups in a pile of short texts: CSV in, report out."""


@main.command()
@click.argument(
    "input_path", metavar="INPUT", required=False, type=click.Path(dir_okay=False)
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the report files (created if missing).",
)
@click.option(
    "--model-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also save the fitted model to this folder (for 'clustering assign').",
)
@click.option(
    "--from",
    "from_record",
    default=None,
    type=click.Path(dir_okay=False),
    help="Repeat the run recorded in this run.json (input, options, seed); "
    "options given here win.",
)
@click.option(
    "--previous",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder of an earlier run: matching groups keep its ids.",
)
@click.option(
    "--text-column",
    default=None,
    help="Column holding the texts (default: chosen when clear).",
)
@click.option(
    "--model",
    default=None,
    help="Sentence-transformers model name or local folder "
    "(default: the bundled all-MiniLM-L6-v2, offline).",
)
@click.option(
    "--min-cluster-size",
    default=None,
    metavar="N|auto",
    help="Smallest group size (default: auto, searched with min-samples by "
    "neighbour-graph modularity).",
)
@click.option(
    "--min-samples",
    default=None,
    metavar="N|auto",
    help="HDBSCAN min_samples (default: auto, searched among 1, 2, 5, 10, 20).",
)
@click.option(
    "--selection-method",
    default=None,
    metavar="auto|eom|leaf",
    help="HDBSCAN cluster selection: auto, eom or leaf (default: auto).",
)
@click.option(
    "--stability-repeats",
    default=None,
    metavar="N",
    help="Subsample repeats measuring each group's stability (default: 3).",
)
@click.option(
    "--assign-noise",
    default=None,
    metavar="SHARE",
    help="Move unclustered rows to the group holding at least SHARE (0-1) of "
    "their nearest neighbours (default: keep them unclustered).",
)
@click.option(
    "--label-column",
    default=None,
    help="Column of known labels to score the groups against (never used to cluster).",
)
@click.option(
    "--n-neighbors",
    default=None,
    metavar="N",
    help="Neighbours in the UMAP graph (default: 15).",
)
@click.option("--seed", default=None, metavar="N", help="Random seed (default: 42).")
@click.option(
    "--format",
    "input_format",
    default=None,
    help="Format of INPUT: csv, tsv, xlsx, parquet, jsonl, json or txt "
    "(default: by extension).",
)
@click.option(
    "--precision",
    default=None,
    metavar="auto|float32|bfloat16",
    help="Embedding arithmetic: auto, float32 or bfloat16 (default: auto, "
    "bfloat16 where the CPU has it natively).",
)
@click.option(
    "--encoding", default=None, help="Text encoding of INPUT (default: detected)."
)
@click.option(
    "--delimiter",
    default=None,
    help="Field delimiter of INPUT, one character; '\\t' or 'tab' for tab "
    "(default: detected).",
)
@click.option(
    "--sheet",
    default=None,
    help="Excel sheet: name or position from 1 (default: the first).",
)
@click.option(
    "--on-bad-lines",
    default="error",
    show_default=True,
    help="A malformed line: 'error' stops with its line number, 'skip' skips it "
    "and lists it in run.json.",
)
@click.option(
    "--long-texts",
    default=None,
    help="Texts over the model's token limit: 'truncate' embeds their start, "
    "'chunk' averages all their pieces (default: truncate).",
)
@click.option(
    "--by",
    "by",
    default=None,
    metavar="COLUMN",
    help="Break the groups down by this column (categories or dates).",
)
@_cache_and_output_options
@click.pass_context
def run(
    ctx: click.Context,
    input_path: str | None,
    out_dir: str | None,
    model_dir: str | None,
    from_record: str | None,
    previous: str | None,
    text_column: str | None,
    model: str | None,
    min_cluster_size: str | None,
    min_samples: str | None,
    selection_method: str | None,
    stability_repeats: str | None,
    assign_noise: str | None,
    label_column: str | None,
    n_neighbors: str | None,
    seed: str | None,
    input_format: str | None,
    precision: str | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    on_bad_lines: str,
    long_texts: str | None,
    cache_dir: str | None,
    by: str | None,
    no_cache: bool,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Cluster the texts of INPUT and write a report to --out.

    INPUT is CSV/TSV, Excel .xlsx, Parquet, JSON Lines, JSON or plain text with
    one item per line.
    """
    ctx.meta["verbose"] = verbose
    _configure_logging(verbose, quiet)

    # Check every option before reading data or loading a model.
    from clustering.options import make_options, make_read_options

    given: dict = {}
    expected_sha256 = None
    if from_record is not None:
        recorded = _read_record(from_record)
        given.update(recorded["options"])
        source = recorded["input"]
        if input_path is None:
            input_path = source.get("path") or source["source"]
            expected_sha256 = source["sha256"]
        input_format = input_format or source.get("format")
        encoding = encoding or source.get("encoding")
        delimiter = delimiter or source.get("delimiter")
        sheet = sheet or source.get("sheet")
        if source.get("bad_lines"):
            on_bad_lines = "skip"
        if given.get("text_column") is None:
            given["text_column"] = source["text_column"]
        if previous is None and recorded.get("previous"):
            previous = recorded["previous"]["dir"]
    if input_path is None:
        raise click.UsageError("Missing argument 'INPUT' (or give --from run.json).")
    for name, value in (
        ("text_column", text_column),
        ("model", model),
        ("min_cluster_size", min_cluster_size),
        ("min_samples", min_samples),
        ("n_neighbors", n_neighbors),
        ("random_state", seed),
        ("long_texts", long_texts),
        ("cluster_selection_method", selection_method),
        ("stability_repeats", stability_repeats),
        ("assign_noise", assign_noise),
        ("label_column", label_column),
        ("cache_dir", cache_dir),
        ("by", by),
        ("precision", precision),
    ):
        if value is not None:
            given[name] = value
    # A repeated run reads the cache only if the recorded one did: cached vectors
    # may differ in their last bits from freshly embedded ones.
    use_cache = not no_cache and given.get("use_cache", True)
    given.update(use_cache=use_cache, show_progress=not quiet)
    options = make_options(**given)
    reading = make_read_options(
        format=input_format,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        on_bad_lines=on_bad_lines,
    ).to_dict()
    from pathlib import Path

    from clustering.report import check_out_dir

    if out_dir is not None:
        check_out_dir(Path(out_dir), force=force)
    if (
        model_dir is not None
        and not force
        and (Path(model_dir) / "manifest.json").exists()
    ):
        raise ClusteringError(
            f"{model_dir} already holds a model; pass --force to replace it, or "
            "choose another --model-dir folder"
        )

    # Read, cluster, write.
    from clustering.io import read_table
    from clustering.pipeline import run_pipeline

    table = read_table(input_path, **reading)
    if expected_sha256 is not None and table.sha256 != expected_sha256:
        raise ClusteringError(
            f"{input_path} changed since the run recorded in {from_record} (its "
            "SHA-256 differs); give INPUT explicitly to run on it anyway"
        )
    result = run_pipeline(table, options, previous=previous)
    result.run_info["input"]["path"] = str(Path(input_path).resolve())
    if out_dir is not None:
        result.save(out_dir, force=force)
    if model_dir is not None:
        from clustering.persist import save_model

        save_model(
            result.estimator,
            model_dir,
            force=force,
            extra={"input_file": result.run_info["input"]},
        )

    if not quiet:
        _print_summary(result.run_info, result.summary(), input_path, out_dir)
        if model_dir is not None:
            click.echo(f"Model: {model_dir}")


def _print_summary(
    info: dict, summary: str, input_path: str, out_dir: str | None
) -> None:
    """What was read, counts by status, skipped lines and notes, on stdout."""
    from pathlib import Path

    counts, source = info["counts"], info["input"]
    how = [f"format {source['format']}"]
    if source.get("sheet"):
        how.append(f"sheet {source['sheet']!r}")
    if source["encoding"]:
        how.append(f"encoding {source['encoding']}")
    if source["delimiter"]:
        how.append(f"delimiter {source['delimiter']!r}")
    how.append(f"text column {source['text_column']!r}")
    click.echo(
        f"Read {counts['rows']} rows from {input_path} ({', '.join(how)}); "
        f"embedded {counts['embedded']}, {counts['embeddings_from_cache']} from cache."
    )
    click.echo(f"{summary}.")
    if counts["skipped_by_reason"]:
        reasons = ", ".join(f"{k} {v}" for k, v in counts["skipped_by_reason"].items())
        click.echo(f"Skipped rows by reason: {reasons}.")
    bad_lines = source.get("bad_lines") or []
    if bad_lines:
        lines = ", ".join(str(bad["line"]) for bad in bad_lines[:20])
        more = f" and {len(bad_lines) - 20} more" if len(bad_lines) > 20 else ""
        click.echo(
            f"Skipped {len(bad_lines)} malformed line(s) of the file, not in the "
            f"assignments: line {lines}{more} (details in run.json)."
        )
    labels = info.get("quality", {}).get("labels")
    if labels:
        click.echo(
            f"Against {labels['column']!r}: ARI {labels['ari']:.3f}, NMI "
            f"{labels['nmi']:.3f}, homogeneity {labels['homogeneity']:.3f}, "
            f"completeness {labels['completeness']:.3f}."
        )
    for note in info["notes"]:
        click.echo(f"Note: {note}")
    if out_dir is not None:
        click.echo(f"Report: {Path(out_dir) / 'report.html'}")


def _fit_params() -> list[click.Parameter]:
    """The options of ``run``, with --out optional and --model-dir required."""
    import copy

    params = []
    for param in run.params:
        param = copy.copy(param)
        if param.name == "out_dir":
            param.required = False
            param.help = "Also write the report files to this folder."
        elif param.name == "model_dir":
            param.required = True
            param.help = "Folder for the fitted model (created if missing)."
        params.append(param)
    return params


fit = click.Command(
    "fit",
    callback=run.callback,
    params=_fit_params(),
    help="Fit the groups of INPUT and save the model to --model-dir.\n\nTakes the "
    "options of 'run'.",
)
main.add_command(fit)


@main.command()
@click.argument("model_dir", metavar="MODEL_DIR", type=click.Path(file_okay=False))
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the report files (created if missing).",
)
@click.option(
    "--text-column",
    default=None,
    help="Column holding the texts (default: the model's, else chosen when clear).",
)
@click.option(
    "--encoding", default=None, help="Text encoding of INPUT (default: detected)."
)
@click.option(
    "--delimiter", default=None, help="Field delimiter of INPUT (default: detected)."
)
@_cache_and_output_options
@click.pass_context
def assign(
    ctx: click.Context,
    model_dir: str,
    input_path: str,
    out_dir: str,
    text_column: str | None,
    encoding: str | None,
    delimiter: str | None,
    cache_dir: str | None,
    no_cache: bool,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Place the rows of INPUT in the groups of the model in MODEL_DIR."""
    ctx.meta["verbose"] = verbose
    _configure_logging(verbose, quiet)
    from pathlib import Path

    from clustering.report import check_out_dir

    check_out_dir(Path(out_dir), force=force)
    from clustering.options import make_read_options

    reading = make_read_options(encoding=encoding, delimiter=delimiter).to_dict()

    # Load the model (no code runs from its folder), then read and place.
    from clustering.io import read_table
    from clustering.persist import load_model
    from clustering.pipeline import assign_pipeline

    model = load_model(model_dir)
    model.set_params(use_cache=not no_cache, show_progress=not quiet)
    if cache_dir is not None:
        model.set_params(cache_dir=cache_dir)
    table = read_table(input_path, **reading)
    result = assign_pipeline(
        table, model, text_column=text_column, model_dir=str(model_dir)
    )
    result.save(out_dir, force=force)
    if not quiet:
        counts = result.run_info["counts"]
        click.echo(
            f"Placed {counts['rows']} rows from {input_path} in the "
            f"{counts['model_groups']} groups of {model_dir} "
            f"({counts['known_to_model']} distinct texts were known to the model)."
        )
        click.echo(f"{result.summary()}.")
        click.echo(f"Report: {Path(out_dir) / 'report.html'}")


def _read_record(path: str) -> dict:
    """A run.json written by an earlier run, checked enough to repeat it."""
    import json

    try:
        record = json.loads(open(path, encoding="utf-8").read())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ClusteringError(f"--from {path}: cannot read it: {error}") from None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("options"), dict)
        or not isinstance(record.get("input"), dict)
        or record.get("command", "run") != "run"
    ):
        raise ClusteringError(
            f"--from {path} is not the run.json of a 'clustering run'; give the "
            "run.json from a run's --out folder"
        )
    if record["input"]["source"].startswith("<"):
        raise ClusteringError(
            f"--from {path} records a run on data in memory "
            f"({record['input']['source']}); give INPUT explicitly"
        )
    return record


@main.command()
@click.argument("old_dir", metavar="OLD_DIR", type=click.Path(file_okay=False))
@click.argument("new_dir", metavar="NEW_DIR", type=click.Path(file_okay=False))
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder for changes.csv, changes.md, changes.html (default: NEW_DIR).",
)
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
@click.option(
    "--verbose", "-v", is_flag=True, help="Log each step; show tracebacks on errors."
)
@click.pass_context
def compare(
    ctx: click.Context,
    old_dir: str,
    new_dir: str,
    out_dir: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Say what changed between the runs in OLD_DIR and NEW_DIR."""
    ctx.meta["verbose"] = verbose
    _configure_logging(verbose, quiet)
    from clustering.compare import compare_runs

    comparison = compare_runs(old_dir, new_dir)
    written = comparison.save(out_dir or new_dir)
    if not quiet:
        counts = ", ".join(f"{k} {v}" for k, v in comparison.counts.items() if v)
        click.echo(f"Groups: {counts or 'none in either run'}.")
        click.echo(
            f"{comparison.n_common} texts are in both runs; {comparison.n_moved} "
            "changed group."
        )
        click.echo(f"Changes: {written / 'changes.html'}")


@main.command()
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def warmup(quiet: bool) -> None:
    """Compile the numerical kernels once, so later runs start at once.

    UMAP and pynndescent compile their kernels with numba on first use; this
    runs a small reduction, clustering and transform so that the compiled code
    lands in numba's on-disk cache (beside the libraries, or in $NUMBA_CACHE_DIR).
    """
    import time

    import numpy as np

    from clustering.cluster import fit_clusters
    from clustering.reduce import exact_neighbors, reduce_vectors, umap_transform

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reduction = reduce_vectors(vectors)
    fit_clusters(reduction.cluster_coords)
    # Placing rows (assign, and the rest of a large input): the transform's kernels.
    found, distances = exact_neighbors(
        vectors[:20], reduction.n_neighbors_used, among=vectors
    )
    umap_transform(reduction.cluster_umap, reduction.cluster_coords, found, distances)
    if not quiet:
        click.echo(f"Compiled and cached in {time.perf_counter() - started:.1f} s.")
