"""``make bench``: every benchmark, one after the other, each printing its own figures and ratios.

Sizes can be raised for a full run (``BENCH_FULL=1``: the full-scale sample over 14 and 90 days,
stream at 100k, 1M and 5M readings, the kill script for 12 rounds, ``smartmeter run`` on 1, 7, 30
and 90 full-scale days, 10 minutes live at the national rate); the default sizes finish in about
half an hour on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from smartmeter_assets.exit_status import run_entry_point

HERE = Path(__file__).resolve().parent
FULL = os.environ.get("BENCH_FULL") == "1"

RUNS: list[list[str]] = [
    ["sample.py", *(["--days", "14", "--days", "90"] if FULL else ["--days", "14"])],
    ["publish.py", "--readings", "270000"],
    ["publish_runs.py", "--days", "5" if FULL else "2"],
    ["reconciliation.py", "--days", "5" if FULL else "1"],
    ["classify.py", "--messages", "800000" if FULL else "400000"],
    ["stream.py", *(["--readings", "100000", "--readings", "1000000", "--readings", "5000000"] if FULL else
                    ["--readings", "100000", "--readings", "1000000"])],
    ["reports.py"],
    ["kill_stream.py", "--rounds", "12" if FULL else "3"],
    ["scale.py", *(["--days", "1", "--days", "7", "--days", "30", "--days", "90"] if FULL else ["--days", "1"])],
    ["live.py", "--minutes", "10" if FULL else "2"],
]  # fmt: skip


def main() -> int:
    failed = []
    for script, *args in RUNS:
        print(f"\n=== benchmarks/{script} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(HERE / script), *args])
        print(f"=== {script}: exit {code} in {time.perf_counter() - started:.0f}s", flush=True)
        if code:
            failed.append(script)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    run_entry_point(main)  # the benchmark's status, never a library's crash at exit
