"""``python -m smartmeter_assets.stream_run --drain-file FILE``: the stream job's Dagster run, in a process.

``smartmeter run`` publishes day after day while the stream consumes; the stream's Dagster run
must therefore run beside the publish runs. Not in a thread of the same process: Dagster
reconfigures logging at every run start, and two runs starting and logging in one process
deadlock on the logging module's locks (seen: the main thread in ``dictConfig``, the stream's in a
handler). So it runs here, in a process of its own on the same instance (``DAGSTER_HOME``), as a
daemon's run worker would, with the settings of the parent (``SMARTMETER_*``). The exit status is
the run's: 0 on success, 1 when it failed (its events are in the instance, like any run's).

With ``--start-file`` it gets ready (imports, definitions, the instance: ~2.5 s of one core) and
then waits until that file exists: ``smartmeter run`` starts it first thing, while it starts the
broker and builds its own definitions, and writes the file once the topic exists.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dagster import DagsterInstance

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.stream.job import STREAM_JOB
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.settings import Settings
from smartmeter_assets.start_gate import wait_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.stream_run", description=__doc__)
    parser.add_argument("--drain-file", required=True, help="where the publisher writes the drain target")
    parser.add_argument("--start-file", type=Path, help="get ready, then run once this file exists")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    config = {"ops": {"run_stream": {"config": {"drain_file": arguments.drain_file}}}}
    job = build_definitions(Settings()).resolve_job_def(STREAM_JOB)
    with DagsterInstance.get() as instance:
        if arguments.start_file is not None:
            wait_for(arguments.start_file)
        result = job.execute_in_process(instance=instance, run_config=config, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    run_entry_point(main)
