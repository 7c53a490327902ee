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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clustering")
def main() -> None:
    """Find the groups in a pile of short texts: CSV in, report out."""


@main.command()
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
    help="Smallest group size (default: about 2% of distinct texts).",
)
@click.option(
    "--min-samples",
    default=None,
    help="HDBSCAN min_samples (default: min(min-cluster-size, 10)).",
)
@click.option(
    "--n-neighbors", default=None, help="Neighbours in the UMAP graph (default: 15)."
)
@click.option("--seed", default=None, help="Random seed (default: 42).")
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
    "--cache-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Embedding cache folder (default: the user cache folder).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("--force", is_flag=True, help="Replace a report already in --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and no summary.")
@click.option(
    "--verbose", "-v", is_flag=True, help="Log each stage; show tracebacks on errors."
)
@click.pass_context
def run(
    ctx: click.Context,
    input_path: str,
    out_dir: str,
    text_column: str | None,
    model: str | None,
    min_cluster_size: str | None,
    min_samples: str | None,
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

    given = {
        "text_column": text_column,
        "min_cluster_size": min_cluster_size,
        "min_samples": min_samples,
        "use_cache": not no_cache,
        "cache_dir": cache_dir,
        "show_progress": not quiet,
    }
    for name, value in (
        ("model", model),
        ("n_neighbors", n_neighbors),
        ("random_state", seed),
        ("long_texts", long_texts),
        ("precision", precision),
    ):
        if value is not None:
            given[name] = value
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

    check_out_dir(Path(out_dir), force=force)

    # Read, cluster, write.
    from clustering.io import read_table
    from clustering.pipeline import run_pipeline

    table = read_table(input_path, **reading)
    result = run_pipeline(table, options)
    result.save(out_dir, force=force)

    if not quiet:
        _print_summary(result.run_info, result.summary(), input_path, out_dir)


def _print_summary(info: dict, summary: str, input_path: str, out_dir: str) -> None:
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
    for note in info["notes"]:
        click.echo(f"Note: {note}")
    click.echo(f"Report: {Path(out_dir) / 'report.html'}")


@main.command()
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def warmup(quiet: bool) -> None:
    """Compile the numerical kernels once, so later runs start at once.

    UMAP and pynndescent compile their kernels with numba on first use; this
    runs a small reduction and clustering so that the compiled code lands in
    numba's on-disk cache (beside the libraries, or in $NUMBA_CACHE_DIR).
    """
    import time

    import numpy as np

    from clustering.cluster import fit_clusters
    from clustering.reduce import reduce_vectors

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reduction = reduce_vectors(vectors)
    fit_clusters(reduction.cluster_coords)
    if not quiet:
        click.echo(f"Compiled and cached in {time.perf_counter() - started:.1f} s.")
