"""``python -m smartmeter_assets.detector_run --outcome-file FILE``: the meter-day detector's run, in a process.

With ``--then ASSET`` (repeatable) it then materializes those reports too, in a second run: the
outcome file holds both runs' checks and failed steps.

``smartmeter run`` ends with the lake's checks and the reports. The detector is the longest of
them (it reads every reading of raw/ once) and all of them are single-threaded Python, so on two
cores the detector runs here, beside the checks and the other reports of the parent, as
:mod:`smartmeter_assets.stream_run` runs the stream beside the publishing (and for the same reason
not in a thread: two Dagster runs starting in one process deadlock in its logging setup). It shares
the parent's instance (``DAGSTER_HOME``) and settings (``SMARTMETER_*``), writes what its run said to
the outcome file (:class:`~smartmeter_assets.run_outcome.RunOutcome`) and exits 0 unless the run
could not be made at all.

With ``--start-file`` it gets ready (imports, definitions, the instance: ~5 s of one core) and then
waits until that file exists: ``smartmeter run`` starts it while the stream drains, when the parent
is idle, and writes the file once the lake is complete.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.reports.run import run_detector, run_reports
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.lake.storage import Lake
from smartmeter_assets.run_outcome import RunOutcome
from smartmeter_assets.settings import Settings
from smartmeter_assets.start_gate import wait_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.detector_run", description=__doc__)
    parser.add_argument("--outcome-file", type=Path, required=True, help="where the run's outcome is written")
    parser.add_argument("--start-file", type=Path, help="get ready, then run once this file exists")
    parser.add_argument(
        "--then", action="append", default=[], metavar="ASSET", help="a report to materialize after the detector"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    definitions = build_definitions(settings)
    definitions.resolve_implicit_global_asset_job_def()  # resolved once per Definitions: before the wait
    with DagsterInstance.get() as instance:
        if arguments.start_file is not None:
            wait_for(arguments.start_file)
        result = run_detector(definitions, instance, Lake.from_settings(settings))
        outcome = RunOutcome() if result is None else RunOutcome.of(result)
        then = {AssetKey.from_user_string(key) for key in arguments.then}
        if then:
            outcome += RunOutcome.of(run_reports(definitions, instance, then))
    outcome.write(arguments.outcome_file)
    return 0


if __name__ == "__main__":
    run_entry_point(main)
