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
