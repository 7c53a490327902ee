"""Breakdown stage: how the groups spread over the values of another column.

The column may hold categories (a source, a product, a team) or dates. Dates are
recognised automatically and bucketed to days, weeks or months, whichever gives a
readable number of periods.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

MISSING = "(missing)"
OTHER = "(other values)"
MAX_CATEGORIES = 30
"""Most frequent values shown; rarer ones are pooled into ``(other values)``."""
_DATE_SHARE = 0.9
_MAX_DAYS = 62
_MAX_WEEKS_SPAN_DAYS = 2 * 365


def parse_dates(values: pd.Series) -> pd.Series | None:
    """``values`` as datetimes when at least 90% of the non-empty cells are dates.

    Plain numbers (``3``, ``2021``) are not taken for dates.

    Examples
    --------
    >>> parse_dates(pd.Series(["2024-01-05", "2024-02-01", ""])).dt.month.tolist()
    [1.0, 2.0, nan]
    >>> parse_dates(pd.Series(["red", "blue"])) is None
    True

    Day and month are read the same way in the whole column:

    >>> parse_dates(pd.Series(["17/03/2024", "12/02/2024", "2024-05-06"])).dt.month
    0    3
    1    2
    2    5
    dtype: int32
    """
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    if not present.any():
        return None
    if text[present].str.fullmatch(r"[+-]?\d+([.,]\d+)?").all():
        return None
    # One reading of day and month for the whole column: day first when some date
    # can only be read so (17/03/2024), else month first. Year-first dates (ISO)
    # are read as such either way.
    year_first = text.str.match(r"\d{4}\D").fillna(False).astype(bool)
    fields = text.str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b")
    day_first = bool((pd.to_numeric(fields[0], errors="coerce") > 12).any())

    def read(cells: pd.Series, **how: bool) -> pd.Series:
        # Times with an offset are moved to UTC; the others are taken as they are.
        return pd.to_datetime(cells, errors="coerce", format="mixed", utc=True, **how)

    parsed = read(text.where(present & ~year_first), dayfirst=day_first)
    if year_first.any():
        parsed[year_first] = read(text[year_first])
    parsed = parsed.dt.tz_localize(None)
    if parsed[present].notna().mean() < _DATE_SHARE:
        return None
    return parsed


def date_bucket(dates: pd.Series) -> str:
    """``"day"``, ``"week"`` or ``"month"``: the bucket that suits the dates' span.

    Examples
    --------
    >>> date_bucket(pd.Series(pd.to_datetime(["2024-01-01", "2024-01-20"])))
    'day'
    >>> date_bucket(pd.Series(pd.to_datetime(["2020-01-01", "2024-01-20"])))
    'month'
    """
    span = (dates.max() - dates.min()).days if dates.notna().any() else 0
    if span <= _MAX_DAYS:
        return "day"
    if span <= _MAX_WEEKS_SPAN_DAYS:
        return "week"
    return "month"


def _periods(dates: pd.Series, bucket: str) -> tuple[pd.Series, list[str]]:
    """Each date's period label, and every period from first to last in order."""
    frequency = {"day": "D", "week": "W-SUN", "month": "M"}[bucket]
    periods = dates.dt.to_period(frequency)
    present = periods.dropna()
    every = pd.period_range(present.min(), present.max(), freq=frequency)

    def name(period: pd.Period) -> str:
        if bucket == "week":
            return f"week of {period.start_time:%Y-%m-%d}"
        return str(period)

    named = periods.map(lambda p: MISSING if pd.isna(p) else name(p))
    return named, [name(p) for p in every]


def breakdown_table(
    values: pd.Series,
    cluster_ids: np.ndarray,
    cluster_labels: list[str],
) -> pd.DataFrame:
    """Rows per group and value of another column.

    Parameters
    ----------
    values : pandas.Series, length n_rows
        The other column, for the kept rows only.
    cluster_ids : numpy.ndarray of int, shape (n_rows,)
        Group per row; ``-1`` is unclustered.
    cluster_labels : list of str, length n_rows
        Group label per row.

    Returns
    -------
    pandas.DataFrame
        One row per (value, group) pair present: ``value``, ``cluster_id``,
        ``cluster_label``, ``rows``, ``share_of_value`` (of the value's rows, in
        this group) and ``share_of_group`` (of the group's rows, at this value).
        Values are in chronological order for dates, by frequency otherwise.
        ``attrs["kind"]`` is ``"date"`` or ``"category"``; ``attrs["bucket"]`` is
        ``"day"``, ``"week"``, ``"month"`` or ``None``; ``attrs["values"]`` lists
        every value in order, empty periods included.

    Examples
    --------
    >>> table = breakdown_table(pd.Series(["a", "a", "b"]), np.array([0, 1, 0]),
    ...                         ["x", "y", "x"])
    >>> table[["value", "cluster_id", "rows", "share_of_value"]].values.tolist()
    [['a', 0, 1, 0.5], ['a', 1, 1, 0.5], ['b', 0, 1, 1.0]]
    """
    values = pd.Series(values).reset_index(drop=True)
    dates = parse_dates(values)
    if dates is not None:
        bucket = date_bucket(dates)
        keys, order = _periods(dates, bucket)
        if (keys == MISSING).any():
            order.append(MISSING)
        kind = "date"
    else:
        bucket = None
        text = values.astype("string").str.strip().fillna("")
        keys = text.mask(text == "", MISSING)
        frequent = keys[keys != MISSING].value_counts()
        if len(frequent) > MAX_CATEGORIES:
            kept = {*frequent.index[:MAX_CATEGORIES], MISSING}
            keys = keys.where(keys.isin(kept), OTHER)
            frequent = keys.value_counts()
        order = list(frequent.index)
        kind = "category"

    # Count rows per value and group, keeping every period in order.
    frame = pd.DataFrame(
        {"value": keys.to_numpy(), "cluster_id": cluster_ids, "label": cluster_labels}
    )
    counts = frame.groupby(["value", "cluster_id"]).size().rename("rows")
    table = counts.reset_index()
    names = frame.drop_duplicates("cluster_id").set_index("cluster_id")["label"]
    table["cluster_label"] = table["cluster_id"].map(names)
    per_value = table.groupby("value")["rows"].transform("sum")
    per_group = table.groupby("cluster_id")["rows"].transform("sum")
    table["share_of_value"] = (table["rows"] / per_value).round(4)
    table["share_of_group"] = (table["rows"] / per_group).round(4)
    rank = {v: i for i, v in enumerate(order)}
    table = table.sort_values(
        ["value", "cluster_id"], key=lambda c: c.map(rank) if c.name == "value" else c
    ).reset_index(drop=True)
    table = table[
        [
            "value",
            "cluster_id",
            "cluster_label",
            "rows",
            "share_of_value",
            "share_of_group",
        ]
    ]
    table.attrs.update(kind=kind, bucket=bucket, values=order)
    return table
