"""The publish as ``smartmeter run`` does it: one Dagster run per day (enrich, then publish), full scale.

Why beside ``publish.py``: at full scale the publishing process costs nearly as much CPU per
reading as the Spark stream (measured on a 629-day run: ~8 us against ~9.5 us), and much of it is
around the producer, not in it: the Dagster run, the lake's IO manager, the key digest, the
publish record. This measures that whole path for D full-scale days (a generated 5,566-household
folder, its sources staged once, the embedded broker, a persistent SQLite instance as
``smartmeter run`` uses) and, in the same process on the same days, the bare baseline: the
staged day enriched and handed to :func:`publish_readings` with no Dagster around it. The ratio
is the cost of the orchestration and the lake's hand-offs.

    .venv/bin/python benchmarks/publish_runs.py --days 5

Figures depend on the machine and on what else runs on it: read the ratio, not the absolutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dagster import DagsterInstance

from smartmeter_assets.dagster_home import prepare_dagster_home
from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.lake.io_manager import read_frame
from smartmeter_assets.defs.stream.replay import PUBLISH_KEYS
from smartmeter_assets.enrich import enrich_table
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.headless import materialize_sources
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.kafka.publish import publish_readings
from smartmeter_assets.kafka.topic import ensure_topic
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.settings import Settings
from smartmeter_assets.sources.staging import read_staged_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import generate, start_of


def cpu_seconds() -> float:
    """This process's CPU, librdkafka's threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="full-scale days to publish (default 5)")
    parser.add_argument("--workdir", type=Path, help="keep the data and home here (default: a temp folder)")
    arguments = parser.parse_args()
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="smartmeter-publish-runs-"))
    data, home = workdir / "data", workdir / "home"
    if not data.exists():
        generate(arguments.days, data)  # scale.py's generator: the same folder, the same first day
    days = [start_of(arguments.days) + timedelta(days=n) for n in range(arguments.days)]

    with EmbeddedBroker() as broker:
        settings = Settings(home=home, data_dir=data, kafka_bootstrap=broker.bootstrap)
        os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
        defs = build_definitions(settings)
        lake = Lake.from_settings(settings)
        ensure_topic(broker.bootstrap, settings.kafka_topic, settings.kafka_partitions, 1)
        with DagsterInstance.get() as instance:
            materialize_sources(defs, instance)
            job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(PUBLISH_KEYS))
            job.execute_in_process(instance=instance, partition_key=days[0].isoformat())  # warm-up, not counted
            started, cpu = time.perf_counter(), cpu_seconds()
            for day in days:
                job.execute_in_process(instance=instance, partition_key=day.isoformat())
            runs_seconds, runs_cpu = time.perf_counter() - started, cpu_seconds() - cpu

        households = read_frame(lake, "households")
        hourly, daily = read_frame(lake, "weather_hourly"), read_frame(lake, "weather_daily")
        readings = 0
        started, cpu = time.perf_counter(), cpu_seconds()
        for day in days:
            enriched, _ = enrich_table(read_staged_table(lake, day), households, hourly, daily)  # as the asset does
            readings += publish_readings(
                enriched, broker.bootstrap, settings.kafka_topic, settings.kafka_partitions
            ).records
        bare_seconds, bare_cpu = time.perf_counter() - started, cpu_seconds() - cpu

    print(f"{len(days)} full-scale days, {readings:,} readings, load {os.getloadavg()[0]:.1f} (work folder {workdir})")
    for name, seconds, cpu in (("Dagster runs (as smartmeter run)", runs_seconds, runs_cpu),
                               ("bare: enrich + publish_readings", bare_seconds, bare_cpu)):  # fmt: skip
        print(
            f"{name:<34} {seconds:7.2f} s  {readings / seconds:>9,.0f} readings/s  "
            f"{cpu:7.2f} CPU s  {cpu / readings * 1e6:5.2f} CPU us/reading"
        )
    print(f"the runs cost x{runs_cpu / bare_cpu:.2f} the CPU of the bare publish")
    return 0


if __name__ == "__main__":
    run_entry_point(main)
