"""London clock time of GMT stamps, derived here so the reports never depend on the stream's columns.

The lake keeps ``timestamp`` in GMT as read; a household lives by the clock on the wall, and a
fraud team works in London days. Every report derives its calendar from ``timestamp`` with these
functions rather than from the derived columns in ``raw/`` (whose time zone is the stream's
business and has changed before).
"""

from __future__ import annotations

import pandas as pd

from smartmeter_assets.contracts import LOCAL_TIMEZONE

SLOTS_PER_HOUR = 2


def london_time(stamps: pd.Series) -> pd.Series:
    """Naive London wall-clock times of naive GMT stamps (an autumn hour appears twice)."""
    return stamps.dt.tz_localize("UTC").dt.tz_convert(LOCAL_TIMEZONE).dt.tz_localize(None)


def london_day(stamps: pd.Series) -> pd.Series:
    """The London calendar day (``datetime.date``) of each naive GMT stamp."""
    return london_time(stamps).dt.date


def london_slot(local: pd.Series) -> pd.Series:
    """Half-hour of the London clock, 0..47, of London times from :func:`london_time`."""
    return local.dt.hour * SLOTS_PER_HOUR + local.dt.minute // 30
