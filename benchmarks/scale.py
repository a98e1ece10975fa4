"""Scale benchmark: D full-scale days (all 5,566 households) through ``smartmeter run``.

For each D: a generated Kaggle-format folder of 5,566 households x D days (112 blocks of 50, as
the real files), then ``smartmeter run --data-dir <it> --days D`` on a fresh home, as a user runs
it: stage -> publish (overlapping the stream) -> stream -> lake -> checks -> reports. Printed per D:

- readings/s end to end (``readings_per_second`` of the run's JSON line: the whole command);
- peak RSS per component (the Python processes, the Kafka broker JVM, the Spark driver JVM) and
  CPU seconds per component, and the peak of each Python process by its role (the command, the
  detector's run, the stream's Dagster run and driver, pyspark workers): the component's sum adds
  peaks that happen at different moments;
- the broker's disk, lake files and Delta log versions per table;
- the time to read one day from ``raw/`` (a reading_date partition, as the reports do);
- the same lake figures and read time after one pass of ``lake_maintenance`` (compact settled
  partitions, vacuum with no retention, checkpoint the logs), and how long that pass took.

A run of D days starts on 2013-01-01 when D days fit before the dataset's last day (2014-02-28),
else on its first day (2011-11-23): generated days outside the span are staged but never
published (the ``readings`` value-range check flags them). A run that ends with a failed check is
still measured, its failed checks printed, and the benchmark exits non-zero.

Then the whole history (829 days, 167.8 M readings) projected from the largest D with its
measured rate, and how rate and memory move between the smallest and the largest D.

    .venv/bin/python benchmarks/scale.py --days 1 --days 7 --days 30 --days 90

Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc

from smartmeter_assets.contracts import (
    DATASET_FIRST_DAY,
    DATASET_LAST_DAY,
    LAKE_TABLES,
    PROGRESS_DIR,
    PUBLISHED_DIR,
    RAW,
)
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.lake.delta import open_delta, read_table
from smartmeter_assets.lake.maintenance import maintain_lake
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.sample_data.spec import MIN_DAYS
from smartmeter_assets.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_tree import TreeSampler

HOUSEHOLDS = 5_566
HISTORY_READINGS = 167_800_000  # 2011-11-23 .. 2014-02-28, all meters (design.md)
HISTORY_GOAL_MINUTES = 60
#: Where a run of D days starts: 2013 (winter, as the figures of earlier runs), or the dataset's
#: first day when D days from there would leave its span (days outside it are never published).
WINTER_START = date(2013, 1, 1)
SPAN_DAYS = (DATASET_LAST_DAY - DATASET_FIRST_DAY).days + 1


def start_of(days: int) -> date:
    if days > SPAN_DAYS:
        raise SystemExit(f"--days {days}: the dataset spans {SPAN_DAYS} days ({DATASET_FIRST_DAY}..{DATASET_LAST_DAY})")
    return WINTER_START if WINTER_START + timedelta(days=days - 1) <= DATASET_LAST_DAY else DATASET_FIRST_DAY


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def generate(days: int, folder: Path) -> float:
    """The sample generator makes 3 days at least; a shorter run publishes the first ``days`` of them."""
    days = max(days, MIN_DAYS)
    started = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "smartmeter"), "sample", "--households", str(HOUSEHOLDS),
            "--days", str(days), "--start", start_of(days).isoformat(),
            "--quiet", "--out", str(folder),  # the real files' layout: 112 blocks of 50
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - started


def lake_figures(settings: Settings) -> dict[str, dict[str, int]]:
    lake = Lake.from_settings(settings)
    figures = {}
    for name in [t.name for t in LAKE_TABLES] + [PUBLISHED_DIR, PROGRESS_DIR]:
        table = open_delta(lake, name)
        if table is None:  # a table the run never wrote
            continue
        log_files = len(list(Path(lake.url(name), "_delta_log").glob("*.json")))
        figures[name] = {"files": len(table.file_uris()), "version": table.version(), "log_files": log_files}
    return figures


def read_one_day(settings: Settings, day: date) -> tuple[int, float]:
    lake = Lake.from_settings(settings)
    started = time.perf_counter()
    rows = read_table(lake, RAW, filter=pc.field("reading_date") == pc.scalar(day)).num_rows
    return rows, time.perf_counter() - started


def bench(days: int, workdir: Path) -> dict[str, object]:
    data, home = workdir / f"data-{days}", workdir / f"home-{days}"
    generated = generate(days, data)
    env = {
        **os.environ,
        "SMARTMETER_HOME": str(home),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    command = [str(Path(sys.executable).parent / "smartmeter"), "run", "--data-dir", str(data),
               "--days", str(days), "--quiet"]  # fmt: skip
    log_file = workdir / f"run-{days}.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log)
        sampler = TreeSampler(process.pid)
        stdout, _ = process.communicate()
        usage = sampler.stop()
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    if not lines:  # no summary: nothing to measure (a failed check still leaves one: measured below)
        raise SystemExit(f"smartmeter run exited {process.returncode}; log: {log_file}")
    summary = json.loads(lines[-1])
    settings = Settings(home=home)
    one_day = start_of(days) + timedelta(days=days // 2)
    day_rows, day_seconds = read_one_day(settings, one_day)
    lake_before = lake_figures(settings)
    started = time.perf_counter()
    maintain_lake(Lake.from_settings(settings), retention_hours=0)  # what lake_maintenance runs, hourly
    maintenance_seconds = time.perf_counter() - started
    _, day_seconds_after = read_one_day(settings, one_day)
    return {
        "days": days,
        "generate_seconds": round(generated, 1),
        "published": summary["published"],
        "raw": summary["raw"],
        "seconds": summary["seconds"],
        "readings_per_second": summary["readings_per_second"],
        "peak_rss_mb": {k: round(v) for k, v in sorted(usage.peak_rss_mb.items())},
        "peak_python_rss_mb": {k: round(v) for k, v in sorted(usage.peak_python_rss_mb.items())},
        "cpu_seconds": {k: round(v, 1) for k, v in sorted(usage.cpu_seconds().items())},
        "python_cpu_seconds": {k: round(v, 1) for k, v in sorted(usage.python_cpu_seconds().items())},
        "broker_disk_mb": round(folder_size(home / "kafka") / 2**20, 1),
        "lake": lake_before,
        "read_one_day": {"rows": day_rows, "seconds": round(day_seconds, 3)},
        "lake_maintenance": {
            "seconds": round(maintenance_seconds, 1),
            "lake_after": lake_figures(settings),
            "read_one_day_seconds_after": round(day_seconds_after, 3),
        },
        "exit_status": process.returncode,
        "days_published": summary.get("days"),
        "checks_failed": summary.get("checks_failed"),
        "failed_checks": summary.get("failed_checks"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, action="append", help="full-scale days per run (repeatable)")
    parser.add_argument("--workdir", type=Path, help="keep data, homes and logs here (default: a temp folder)")
    arguments = parser.parse_args()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="smartmeter-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}; work folder {workdir}", flush=True)
    results = []
    for days in sorted(arguments.days or [1, 7]):
        result = bench(days, workdir)
        results.append(result)
        print(json.dumps(result), flush=True)
        ok = result["published"] == result["raw"]
        print(
            f"D={days} from {start_of(days)}: {result['days_published']} days published, {result['published']:,} "
            f"readings, {result['readings_per_second']:,.0f}/s end to end in {float(result['seconds']) / 60:.1f} min, "
            f"published {'=' if ok else '!='} raw, exit {result['exit_status']}"
            f"{' (failed checks: ' + ', '.join(result['failed_checks']) + ')' if result['failed_checks'] else ''}, "
            f"peak RSS {result['peak_rss_mb']}, broker disk {result['broker_disk_mb']} MB, "
            f"one day from raw/ in {result['read_one_day']['seconds']} s",
            flush=True,
        )
    largest, smallest = results[-1], results[0]
    minutes = HISTORY_READINGS / float(largest["readings_per_second"]) / 60
    print(
        f"projection from D={largest['days']}: the whole history ({HISTORY_READINGS:,} readings) in "
        f"{minutes:,.0f} min at {largest['readings_per_second']:,.0f} readings/s (goal <= {HISTORY_GOAL_MINUTES})"
    )
    if largest is not smallest:
        rate = float(largest["readings_per_second"]) / float(smallest["readings_per_second"])
        print(f"D={smallest['days']} -> D={largest['days']}: rate x{rate:.2f}; peak RSS "
              + ", ".join(f"{k} x{largest['peak_rss_mb'].get(k, 0) / max(v, 1):.2f}"
                          for k, v in smallest["peak_rss_mb"].items()))  # fmt: skip
    print(f"load average at end: {os.getloadavg()}")
    return 1 if any(r["exit_status"] for r in results) else 0


if __name__ == "__main__":
    run_entry_point(main)
