import pytest

from clustering.errors import ParameterError
from clustering.options import make_options


@pytest.mark.parametrize("value", [1, 0, -3, 2.5, "abc", True])
def test_bad_min_cluster_size_names_option_range_and_value(value):
    with pytest.raises(
        ParameterError, match=r"min_cluster_size must be a whole number >= 2.*got"
    ):
        make_options(min_cluster_size=value)


def test_whole_number_given_as_float_or_string_is_accepted():
    assert make_options(min_cluster_size=15.0).min_cluster_size == 15
    assert make_options(min_cluster_size="15").min_cluster_size == 15
    assert make_options(n_neighbors="15.0").n_neighbors == 15


def test_n_neighbors_one_is_refused():
    with pytest.raises(
        ParameterError, match=r"n_neighbors must be a whole number >= 2; got 1"
    ):
        make_options(n_neighbors=1)


def test_unknown_option_lists_known_ones():
    with pytest.raises(
        ParameterError, match=r"option name must be one of .*min_cluster_size"
    ):
        make_options(min_cluster_sise=5)


def test_min_samples_above_min_cluster_size_is_refused():
    with pytest.raises(ParameterError, match="min_samples must be at most"):
        make_options(min_cluster_size=5, min_samples=8)


def test_defaults_are_kept_as_given():
    options = make_options()
    assert options.min_cluster_size is None
    assert options.model == "all-MiniLM-L6-v2"
    assert options.random_state == 42


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--min-samples", "0"],
            "min_samples must be a whole number >= 1, or auto; got '0'",
        ),
        (
            ["--n-neighbors", "2.5"],
            "n_neighbors must be a whole number >= 2; got '2.5'",
        ),
        (["--seed", "-1"], "random_state must be a whole number >= 0; got '-1'"),
        (["--seed", "abc"], "random_state must be a whole number >= 0; got 'abc'"),
        (["--model", " "], "model must be a non-empty string; got ' '"),
        (["--text-column", ""], "text_column must be a non-empty string or None"),
        (["--format", "xls"], "format must be one of csv, tsv, xlsx, parquet"),
        (["--encoding", "utf-9"], "encoding must be a text encoding such as utf-8"),
        (["--delimiter", ";;"], "delimiter must be one character"),
        (["--sheet", "Answers"], "sheet must be given only for xlsx input, not csv"),
        (["--on-bad-lines", "warn"], "on_bad_lines must be one of error, skip; got"),
        (["--long-texts", "all"], "long_texts must be one of truncate, chunk; got"),
        (["--precision", "int8"], "precision must be one of auto, float32, bfloat16"),
        (["--min-cluster-size", "5", "--min-samples", "6"], "min_samples must be at"),
        (
            ["--selection-method", "best"],
            "cluster_selection_method must be one of auto, eom, leaf; got 'best'",
        ),
        (
            ["--stability-repeats", "-1"],
            "stability_repeats must be a whole number >= 0; got '-1'",
        ),
        (
            ["--assign-noise", "1.5"],
            "assign_noise must be a number from 0 to 1, or None to keep",
        ),
        (
            ["--label-column", "label"],
            "label_column must be one of the columns 'text'; got 'label'",
        ),
        (["--bogus"], "No such option '--bogus'"),
        (["--cache-dir", "FILE"], "Invalid value for '--cache-dir'"),
        (["--out", "FILE"], "Invalid value for '--out'"),
    ],
)
def test_every_cli_option_refuses_a_bad_value_in_one_line(tmp_path, args, message):
    from click.testing import CliRunner

    from clustering.cli import main

    source = tmp_path / "in.csv"
    source.write_text("text\nfirst answer\nsecond answer\n")
    args = [str(source) if a == "FILE" else a for a in args]
    done = CliRunner().invoke(
        main, ["run", str(source), "--out", str(tmp_path / "o")] + args
    )
    assert done.exit_code in (1, 2)
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.output
    assert message in lines[0]
    if args[0] not in ("--bogus", "--cache-dir", "--out", "--min-cluster-size"):
        assert lines[0].startswith(f"Error: {args[0]}: ")
    assert not (tmp_path / "o").exists()
    assert source.read_text() == "text\nfirst answer\nsecond answer\n"
