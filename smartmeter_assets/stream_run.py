"""``python -m smartmeter_assets.stream_run --drain-file FILE``: the stream job's Dagster run, in a process.

``smartmeter run`` publishes day after day while the stream consumes; the stream's Dagster run
must therefore run beside the publish runs. Not in a thread of the same process: Dagster
reconfigures logging at every run start, and two runs starting and logging in one process
deadlock on the logging module's locks (seen: the main thread in ``dictConfig``, the stream's in a
handler). So it runs here, in a process of its own on the same instance (``DAGSTER_HOME``), as a
daemon's run worker would, with the settings of the parent (``SMARTMETER_*``). The exit status is
the run's: 0 on success, 1 when it failed (its events are in the instance, like any run's).
"""

from __future__ import annotations

import argparse
import logging

from dagster import DagsterInstance

from smartmeter_assets.definitions import build_definitions
from smartmeter_assets.defs.stream.job import STREAM_JOB
from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.stream_run", description=__doc__)
    parser.add_argument("--drain-file", required=True, help="where the publisher writes the drain target")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    config = {"ops": {"run_stream": {"config": {"drain_file": arguments.drain_file}}}}
    with DagsterInstance.get() as instance:
        result = (
            build_definitions(Settings())
            .resolve_job_def(STREAM_JOB)
            .execute_in_process(instance=instance, run_config=config, raise_on_error=False)
        )
    return 0 if result.success else 1


if __name__ == "__main__":
    run_entry_point(main)
