"""Sample generator benchmark: reading rows/s of the vectorised generator, against the row-by-row one.

Both run in this process on the same small sample (the row-by-row generator makes ~12k rows/s and
slows further with size: the full 5,566 households took ~5 min), and must write the same bytes;
then the vectorised generator alone makes the full-scale sample (all 5,566 households) for each
``--days``, under /tmp, removed afterwards. Prints rows, seconds, rows/s, the ratio, and the
process's peak RSS so far.

    .venv/bin/python benchmarks/sample.py                      # small 300 x 14 both ways, then 5,566 x 14
    .venv/bin/python benchmarks/sample.py --days 14 --days 90  # more full-scale spans

Figures depend on the machine and on what else runs on it: read the ratio, not the absolutes.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from smartmeter_assets.sample_data.generator import SampleSpec, generate
from smartmeter_assets.sample_data.row_by_row import generate_row_by_row

FULL_SCALE_HOUSEHOLDS = 5566  # every household of the real dataset


def _digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*.csv")):
        sha.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return sha.hexdigest()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _timed(make: Callable[[Path, SampleSpec], dict[str, int]], out: Path, spec: SampleSpec) -> tuple[int, float]:
    started = time.perf_counter()
    rows = make(out, spec)["reading_rows"]
    return rows, time.perf_counter() - started


def _line(name: str, spec: SampleSpec, rows: int, seconds: float) -> str:
    size = f"{spec.households:,} x {spec.days} days"
    return (
        f"{name:<12} {size:>20}  rows {rows:>12,}  {seconds:>7.2f} s  {rows / seconds:>12,.0f} rows/s  "
        f"peak RSS so far {_peak_rss_mb():,.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small-households", type=int, default=300, help="size both generators make")
    parser.add_argument("--small-days", type=int, default=14)
    parser.add_argument("--days", type=int, action="append", help="full-scale spans (default: 14)")
    parser.add_argument("--households", type=int, default=FULL_SCALE_HOUSEHOLDS)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sample-bench-", dir="/tmp"))
    try:
        small = SampleSpec(households=args.small_households, days=args.small_days)
        old_rows, old_seconds = _timed(generate_row_by_row, work / "row_by_row", small)
        print(_line("row-by-row", small, old_rows, old_seconds), flush=True)
        new_rows, new_seconds = _timed(generate, work / "vectorised", small)
        print(_line("vectorised", small, new_rows, new_seconds), flush=True)
        same = _digest(work / "row_by_row") == _digest(work / "vectorised")
        print(f"same bytes: {'yes' if same else 'NO'}; vectorised / row-by-row: {old_seconds / new_seconds:,.1f}x")
        shutil.rmtree(work / "row_by_row")
        shutil.rmtree(work / "vectorised")

        for days in args.days or [14]:
            spec = SampleSpec(households=args.households, days=days)
            rows, seconds = _timed(generate, work / f"full-{days}", spec)
            size = sum(p.stat().st_size for p in (work / f"full-{days}").rglob("*.csv"))
            print(f"{_line('vectorised', spec, rows, seconds)}  files {size / 1e6:,.0f} MB", flush=True)
            shutil.rmtree(work / f"full-{days}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
