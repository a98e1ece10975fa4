"""Kill test, long form: many rounds of publish -> run -> ``kill -9`` at a random moment -> restart.

After the last round the job runs to the end, then the lake is checked: every published reading
in ``raw/`` exactly once, every poison message in ``rejected/`` exactly once, no Kafka record in
both, and ``aggregated/`` equal to a DuckDB recomputation over ``raw/``.

    .venv/bin/python benchmarks/kill_stream.py --rounds 12 --readings-per-round 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.kafka.broker import EmbeddedBroker
from smartmeter_assets.settings import Settings
from smartmeter_assets.testbed.stream_kill import kill_rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--readings-per-round", type=int, default=20_000)
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--max-records", type=int, default=10_000, help="records per micro-batch")
    parser.add_argument("--kill-after", type=float, nargs=2, default=(5.0, 25.0), metavar=("MIN", "MAX"))
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="kill-stream-"))
    started = time.monotonic()
    with EmbeddedBroker(home=home) as broker:
        settings = Settings(
            home=home,
            kafka_bootstrap=broker.bootstrap,
            kafka_topic=f"kill-{uuid.uuid4().hex[:6]}",
            spark_max_records_per_batch=arguments.max_records,
        )
        report = kill_rounds(
            settings,
            rounds=arguments.rounds,
            readings_per_round=arguments.readings_per_round,
            meters=arguments.meters,
            log_folder=home,
            seed=arguments.seed,
            kill_after=tuple(arguments.kill_after),
            say=lambda line: print(line, flush=True),
        )
    print(
        f"\n{report.rounds} rounds, {report.kills} killed with SIGKILL, {report.clean_exits} finished first; "
        f"{time.monotonic() - started:.0f}s"
    )
    print(
        f"published {report.published_messages:,} messages: {report.readings:,} distinct readings, "
        f"{report.poison} poison; lake: raw/ {report.raw_rows:,} rows, rejected/ {report.rejected_rows} rows"
    )
    if report.problems:
        print("PROBLEMS:\n  " + "\n  ".join(report.problems))
        print(f"job log: {home / 'stream-job.log'}")
        return 1
    print("every reading in raw/ once, every poison message in rejected/ once, aggregates = recomputation")
    return 0


if __name__ == "__main__":
    run_entry_point(main)  # the benchmark's status, never a library's crash at exit
