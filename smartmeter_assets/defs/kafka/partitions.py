"""The daily partitions of the publish path: one per day of the dataset, so any range backfills."""

from __future__ import annotations

from datetime import timedelta

from dagster import DailyPartitionsDefinition

from smartmeter_assets.contracts import DATASET_FIRST_DAY, DATASET_LAST_DAY

#: Dagster's end date is exclusive: the day after the last day holds the last partition.
daily_partitions = DailyPartitionsDefinition(
    start_date=DATASET_FIRST_DAY.isoformat(),
    end_date=(DATASET_LAST_DAY + timedelta(days=1)).isoformat(),
)
