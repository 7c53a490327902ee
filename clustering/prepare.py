"""Choose the text column and decide, row by row, what can be clustered.

Every input row is accounted for: it is either kept (``ok``) or skipped with one of
the reasons in :data:`SKIP_REASONS`. Kept texts are deduplicated exactly (after
trimming surrounding whitespace) and put in a canonical sorted order, so that the
later stages see each distinct text once and do not depend on the input's row order.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clustering.errors import InputError, ParameterError

logger = logging.getLogger(__name__)

#: Why a row was not clustered, by reason code.
SKIP_REASONS = {
    "empty": "the text cell is empty or only whitespace",
    "missing_value": "the cell holds a missing-value marker such as NA, null or None",
    "not_text": "the cell holds a non-text value (a number, date or object)",
    "number_only": "the text is only a number (such as 404 or 12.5), not words",
    "no_letters_or_digits": "the text has no letters, digits or symbols",
}

#: Cell values (compared case-insensitively after trimming) read as missing.
NA_MARKERS = frozenset(
    {"na", "n/a", "n.a.", "nan", "null", "none", "nil", "#n/a", "<na>", "-", "--"}
)

#: Column names that mark a column as the text, in order of preference.
TEXT_COLUMN_NAMES = (
    "text",
    "texts",
    "sentence",
    "content",
    "comment",
    "comments",
    "message",
    "body",
    "review",
    "answer",
    "response",
    "feedback",
    "description",
    "title",
)

_NUMBER_ONLY = re.compile(r"^[\s\d.,:;+\-/%#()]*\d[\s\d.,:;+\-/%#()]*$")


@dataclass
class PreparedTexts:
    """The texts of one column, with every row's status.

    Attributes
    ----------
    column : str
        Name of the text column.
    skip_reason : numpy.ndarray of object, shape (n_rows,)
        ``""`` for a kept row, else a key of :data:`SKIP_REASONS`.
    unique_texts : list of str, length n_unique
        Distinct kept texts, sorted.
    row_to_unique : numpy.ndarray of int, shape (n_rows,)
        Index into ``unique_texts`` for each row; ``-1`` for a skipped row.
    counts : numpy.ndarray of int, shape (n_unique,)
        Number of rows holding each distinct text.
    """

    column: str
    skip_reason: np.ndarray
    unique_texts: list[str]
    row_to_unique: np.ndarray
    counts: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.row_to_unique)

    @property
    def n_kept(self) -> int:
        return int((self.row_to_unique >= 0).sum())

    def skipped_counts(self) -> dict[str, int]:
        """Number of skipped rows per reason (reasons with no rows left out)."""
        reasons, counts = np.unique(
            self.skip_reason[self.row_to_unique < 0].astype(str), return_counts=True
        )
        return {str(r): int(c) for r, c in zip(reasons, counts, strict=True)}


def classify_cell(value: object) -> tuple[str | None, str]:
    """Return ``(text, "")`` for a usable cell, or ``(None, reason)`` for a skipped one.

    Examples
    --------
    >>> classify_cell("  Great service ")
    ('Great service', '')
    >>> classify_cell("N/A")
    (None, 'missing_value')
    >>> classify_cell("404")
    (None, 'number_only')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, "missing_value"
    if value is pd.NA or value is pd.NaT:
        return None, "missing_value"
    if not isinstance(value, str):
        return None, "not_text"
    text = value.strip()
    if not text:
        return None, "empty"
    if text.lower() in NA_MARKERS:
        return None, "missing_value"
    if _NUMBER_ONLY.match(text):
        return None, "number_only"
    if not any(unicodedata.category(ch)[0] in "LNS" for ch in text):
        return None, "no_letters_or_digits"
    return text, ""


def _text_score(values: pd.Series) -> tuple[float, float]:
    """Share of text-like cells and their median length times distinctness."""
    sample = values.iloc[:2000]
    texts = [classify_cell(v)[0] for v in sample]
    kept = [t for t in texts if t is not None]
    if not kept:
        return 0.0, 0.0
    share = len(kept) / len(texts)
    distinct = len(set(kept)) / len(kept)
    return share, float(np.median([len(t) for t in kept])) * distinct


def choose_text_column(frame: pd.DataFrame, requested: str | None = None) -> str:
    """Return the text column: ``requested`` if given, else the clear choice.

    A column is the clear choice when it is the only column, when it is text-like
    and has a conventional name (``text``, ``comment``, ...), or when its texts are
    at least twice as long and varied as any other column's.

    Raises
    ------
    ParameterError
        If ``requested`` is not a column, or no column is clearly the text.
    """
    columns = [str(c) for c in frame.columns]
    listing = ", ".join(repr(c) for c in columns)
    if requested is not None:
        if requested in columns:
            return requested
        alike = [c for c in columns if c.strip().lower() == requested.strip().lower()]
        raise ParameterError(
            "text_column",
            f"one of the columns {listing}",
            requested,
            f"Did you mean {alike[0]!r}?" if alike else "",
        )
    if not columns:
        raise InputError("the input has no columns")
    if len(columns) == 1:
        return columns[0]
    if len(frame) == 0:
        named = [c for c in columns if c.strip().lower() in TEXT_COLUMN_NAMES]
        if named:
            return named[0]
        raise InputError(
            f"the input has a header ({listing}) but no rows: there is nothing to "
            "cluster"
        )

    scores = {c: _text_score(frame[c]) for c in columns}
    textual = [c for c in columns if scores[c][0] >= 0.5]
    by_name = {c.strip().lower(): c for c in textual}
    for name in TEXT_COLUMN_NAMES:
        if name in by_name:
            return by_name[name]
    ranked = sorted(textual, key=lambda c: scores[c][1], reverse=True)
    if len(ranked) == 1 or (
        len(ranked) > 1 and scores[ranked[0]][1] >= 2 * scores[ranked[1]][1]
    ):
        return ranked[0]
    raise ParameterError(
        "text_column",
        f"one of the columns {listing}",
        None,
        "No column is clearly the text; choose one with --text-column",
    )


def prepare_texts(values: Sequence[object], column: str = "text") -> PreparedTexts:
    """Classify every value (one per input row) and deduplicate the kept texts.

    Parameters
    ----------
    values : sequence, length n_rows
        The text cells, one per row, in input order.
    column : str, default="text"
        Name of the column they came from, used in messages.
    """
    texts: list[str | None] = []
    reasons: list[str] = []
    for value in values:
        text, reason = classify_cell(value)
        texts.append(text)
        reasons.append(reason)

    # Distinct kept texts in sorted order, and each row's place among them.
    unique_texts = sorted({t for t in texts if t is not None})
    position = {t: i for i, t in enumerate(unique_texts)}
    row_to_unique = np.array(
        [position[t] if t is not None else -1 for t in texts], dtype=np.int64
    )
    counts = np.bincount(row_to_unique[row_to_unique >= 0], minlength=len(unique_texts))

    prepared = PreparedTexts(
        column=column,
        skip_reason=np.array(reasons, dtype=object),
        unique_texts=unique_texts,
        row_to_unique=row_to_unique,
        counts=counts,
    )
    logger.info(
        "column %r: %d rows, %d kept (%d distinct), skipped %s",
        column,
        prepared.n_rows,
        prepared.n_kept,
        len(unique_texts),
        prepared.skipped_counts(),
    )
    return prepared
