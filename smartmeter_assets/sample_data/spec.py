"""What a sample is (size, span, seed, layout) and the load model's fixed numbers.

Kept apart from the generator so the vectorised generator and the row-by-row reference it is
tested against read the same numbers: a change of shape or cap changes both, never one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from smartmeter_assets.contracts import ACORN_GROUPS

#: Households per ``block_N.csv`` in the real files (5,566 households in 112 blocks): a full-scale
#: sample has their layout by default. Staging writes one file per block and day, so a layout of
#: smaller blocks is slower for the same readings: 696 blocks of 8 made ``smartmeter run --days 14``
#: 88.8 s where 112 blocks of 50 made it 70-74 s.
REAL_HOUSEHOLDS_PER_BLOCK = 50
#: A sample of fewer than 3 real blocks (150 households) has blocks of this size by default instead,
#: so that it still has several: 24 households make 3 blocks of 8.
SMALL_SAMPLE_HOUSEHOLDS_PER_BLOCK = 8
REAL_LAYOUT_FROM_HOUSEHOLDS = 3 * REAL_HOUSEHOLDS_PER_BLOCK
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
    households_per_block: int | None = None  # None: the default layout (see block_size)

    def __post_init__(self) -> None:
        if self.days < MIN_DAYS or self.households < 1:
            # anomalies and quirks keep the first and last day clean: fewer days leave no room
            raise ValueError(
                f"a sample needs at least {MIN_DAYS} days and 1 household (got {self.days}, {self.households})"
            )
        if self.households_per_block is not None and self.households_per_block < 1:
            raise ValueError(f"a block holds at least 1 household (got {self.households_per_block})")

    @property
    def block_size(self) -> int:
        """Households per block: as asked, else the real files' 50 (8 for a sample under 3 such blocks)."""
        if self.households_per_block is not None:
            return self.households_per_block
        if self.households >= REAL_LAYOUT_FROM_HOUSEHOLDS:
            return REAL_HOUSEHOLDS_PER_BLOCK
        return SMALL_SAMPLE_HOUSEHOLDS_PER_BLOCK

    @property
    def slots(self) -> int:
        """Half-hours per household over the whole span."""
        return self.days * SLOTS_PER_DAY
