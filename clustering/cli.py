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


class _Group(click.Group):
    """Turns library errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ClusteringError as error:
            if ctx.meta.get("verbose"):
                raise
            click.echo(f"Error: {error}", err=True)
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
    "--encoding", default=None, help="Text encoding of INPUT (default: detected)."
)
@click.option(
    "--delimiter", default=None, help="Field delimiter of INPUT (default: detected)."
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
    encoding: str | None,
    delimiter: str | None,
    cache_dir: str | None,
    no_cache: bool,
    force: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """Cluster the texts of INPUT (CSV or TSV) and write a report to --out."""
    ctx.meta["verbose"] = verbose
    _configure_logging(verbose, quiet)

    # Check every option before reading data or loading a model.
    from clustering.options import make_options

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
    ):
        if value is not None:
            given[name] = value
    options = make_options(**given)
    if delimiter is not None and len(delimiter.encode("unicode_escape")) > 2:
        delimiter = delimiter.encode().decode("unicode_escape")
    from pathlib import Path

    from clustering.report import OUTPUT_FILES

    if not force and any((Path(out_dir) / name).exists() for name in OUTPUT_FILES):
        raise ClusteringError(
            f"{out_dir} already holds a report; pass --force to replace it, or "
            "choose another --out folder"
        )

    # Read, cluster, write.
    from clustering.io import read_table
    from clustering.pipeline import run_pipeline

    table = read_table(input_path, encoding=encoding, delimiter=delimiter)
    result = run_pipeline(table, options)
    result.save(out_dir, force=force)

    if not quiet:
        info = result.run_info
        counts = info["counts"]
        click.echo(
            f"Read {counts['rows']} rows from {input_path} "
            f"(encoding {info['input']['encoding']}, text column "
            f"{info['input']['text_column']!r}); embedded {counts['embedded']}, "
            f"{counts['embeddings_from_cache']} from cache."
        )
        click.echo(f"{result.summary()}.")
        if counts["skipped_by_reason"]:
            reasons = ", ".join(
                f"{k} {v}" for k, v in counts["skipped_by_reason"].items()
            )
            click.echo(f"Skipped: {reasons}.")
        for note in info["notes"]:
            click.echo(f"Note: {note}")
        click.echo(f"Report: {Path(out_dir) / 'report.html'}")
