"""Reports on a Kaggle-format folder: how long each report asset takes and what it finds.

The lake is built straight from the folder's CSV files (the test suite's stand-in for the stream:
same tables, rule flags from the contract's reference function), so this measures the reports
alone. Prints the time of every asset, then ``smartmeter report`` and ``smartmeter report --json``.

On the real meters with injected events (the folder is written by ``smartmeter inject``, outside
the repository), with several seeds::

    .venv/bin/smartmeter inject --data-dir ../shared/real-meters --out /tmp/realinj1 --seed 1
    .venv/bin/python benchmarks/reports.py --data-dir /tmp/realinj1

Default: the committed sample.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dagster import AssetKey, DagsterInstance, materialize

from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.defs.reports.assets import ALERTS_TABLE, REPORT_ASSETS
from smartmeter_assets.defs.sources.resources import SourceFilesResource
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.reports.cli import print_json, print_report
from smartmeter_assets.reports.lake_query import lake_connection
from smartmeter_assets.settings import Settings
from smartmeter_assets.testbed.landed_lake import lake_from_sample

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=REPO / "data" / "sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(str(Path(folder) / "lake"))
        started = time.perf_counter()
        rows = lake_from_sample(args.data_dir, lake)
        print(f"stand-in lake: {rows} readings in {time.perf_counter() - started:.1f} s")
        ((first, last),) = (
            lake_connection(lake).execute("SELECT min(reading_date), max(reading_date) FROM raw").fetchall()
        )
        res = {"lake": LakeResource(url=lake.root), "sources": SourceFilesResource(data_dir=str(args.data_dir))}
        instance = DagsterInstance.ephemeral()
        started = time.perf_counter()
        materialize(
            REPORT_ASSETS, selection=[ALERTS_TABLE], resources=res, instance=instance,
            tags={"dagster/asset_partition_range_start": first.isoformat(),
                  "dagster/asset_partition_range_end": last.isoformat()},
        )  # fmt: skip
        detector_seconds = time.perf_counter() - started
        days = (last - first).days + 1
        print(f"{ALERTS_TABLE}: {days} days in one run, {detector_seconds:.1f} s ({detector_seconds / days:.2f} s/day)")
        for asset in REPORT_ASSETS:
            if asset.key == AssetKey(ALERTS_TABLE):
                continue
            started = time.perf_counter()
            materialize(REPORT_ASSETS, selection=[asset.key.to_user_string()], resources=res, instance=instance)
            print(f"{asset.key.to_user_string()}: {time.perf_counter() - started:.1f} s")
        print()
        settings = Settings(lake_url=lake.root, data_dir=args.data_dir)
        status = print_report(settings)
        print()
        return max(status, print_json(settings))


if __name__ == "__main__":
    run_entry_point(main)  # the benchmark's status, never a library's crash at exit
