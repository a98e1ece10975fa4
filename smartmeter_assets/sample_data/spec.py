"""What a sample is (size, span, seed, layout) and the load model's fixed numbers.

Kept apart from the generator so the vectorised generator and the row-by-row reference it is
tested against read the same numbers: a change of shape or cap changes both, never one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from smartmeter_assets.contracts import ACORN_GROUPS

#: Households per ``block_N.csv`` by default (the real files hold 50; 8 keeps small samples multi-block).
HOUSEHOLDS_PER_BLOCK = 8
#: Half-hours per day: the source grid (GMT all year, so every day has 48).
SLOTS_PER_DAY = 48
#: ACORN letter ranges of each category (A-E Affluent, F-J Comfortable, K-Q Adversity)
CATEGORY_OF_GROUP = {
    group: ("Affluent" if i < 5 else "Comfortable" if i < 10 else "Adversity") for i, group in enumerate(ACORN_GROUPS)
}
SIZE_OF_CATEGORY = {"Affluent": 1.35, "Comfortable": 1.0, "Adversity": 0.8, "ACORN-U": 1.0, "ACORN-": 1.0}
#: Relative load by half-hour of the day (48 values): night trough, morning bump, evening peak.
_HOURLY_SHAPE = np.array(
    [0.55, 0.5, 0.45, 0.42, 0.4, 0.4, 0.45, 0.8, 1.25, 1.15, 0.95, 0.9,
     0.9, 0.95, 0.9, 0.85, 0.9, 1.3, 1.9, 2.1, 2.0, 1.6, 1.2, 0.8]
)  # fmt: skip
DAY_SHAPE = np.repeat(_HOURLY_SHAPE, 2)
#: Caps on normal load (kWh per half-hour), below the anomaly rules' defaults.
CAP_ANY, CAP_NIGHT, CAP_WEEKEND_DAY = 1.8, 0.45, 1.4


#: Fewest days a sample can have (see SampleSpec.__post_init__).
MIN_DAYS = 3


@dataclass(frozen=True)
class SampleSpec:
    households: int = 24
    days: int = 84
    start: date = date(2013, 1, 7)
    seed: int = 20131
    suffix_share: float = 0.5  # share of blocks whose timestamps carry ".0000000"
    households_per_block: int = HOUSEHOLDS_PER_BLOCK

    def __post_init__(self) -> None:
        if self.days < MIN_DAYS or self.households < 1:
            # anomalies and quirks keep the first and last day clean: fewer days leave no room
            raise ValueError(
                f"a sample needs at least {MIN_DAYS} days and 1 household (got {self.days}, {self.households})"
            )
        if self.households_per_block < 1:
            raise ValueError(f"a block holds at least 1 household (got {self.households_per_block})")

    @property
    def slots(self) -> int:
        """Half-hours per household over the whole span."""
        return self.days * SLOTS_PER_DAY
