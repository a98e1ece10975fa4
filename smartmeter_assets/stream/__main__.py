"""``python -m smartmeter_assets.stream [--available-now | --drain-file FILE]``: the stream job as a process.

Settings come from ``SMARTMETER_*`` variables (the Dagster side passes ``Settings.to_env()``).
Under Dagster Pipes (``DAGSTER_PIPES_CONTEXT`` set) every micro-batch is logged (one line; its
figures are in the lake's ``stream_progress`` table); an available-now run ends with the custom
message ``{"totals": {...}}``. Any failure exits non-zero: never a silent success.

Also a file ``spark-submit`` can run: it only uses absolute imports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.kafka.access import KafkaAccessError
from smartmeter_assets.kafka.topic import KafkaUnreachableError
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.job import run_stream
from smartmeter_assets.stream.progress import describe
from smartmeter_assets.stream.truststore import S3TrustError

PIPES_CONTEXT_VARIABLE = "DAGSTER_PIPES_CONTEXT"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m smartmeter_assets.stream", description=__doc__)
    parser.add_argument(
        "--available-now",
        action="store_true",
        help="process everything published so far, then stop (Spark's availableNow trigger)",
    )
    parser.add_argument(
        "--drain-file",
        type=Path,
        help="run with the processing-time trigger until the drain target a publisher writes to this file "
        "(possibly later) is in the lake, then stop (smartmeter run: publishing and streaming overlap)",
    )
    parser.add_argument("--checkpoint", help="checkpoint location (default: from settings)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def _pipes() -> Iterator[Any]:
    """Dagster Pipes when launched by Dagster, else nothing."""
    if not os.environ.get(PIPES_CONTEXT_VARIABLE):
        yield None
        return
    from dagster_pipes import open_dagster_pipes

    with open_dagster_pipes() as pipes:
        yield pipes


def _stop_on_sigterm() -> None:
    """SIGTERM (Dagster terminating the run, docker stop) stops the query in order, exit 143."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    _stop_on_sigterm()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    log = logging.getLogger("smartmeter_assets.stream")
    try:
        with _pipes() as pipes:

            def on_batch(figures: dict[str, Any]) -> None:
                # A log line per batch, not a custom message: Dagster keeps a run's custom messages
                # in memory, and a stream runs for months. The figures are in the lake's
                # stream_progress table, committed with each batch.
                if pipes is not None:
                    pipes.log.info(describe(figures))

            result = run_stream(
                Settings(),
                available_now=arguments.available_now,
                on_batch=on_batch,
                checkpoint=arguments.checkpoint,
                drain_file=arguments.drain_file,
            )
            log.info("stream finished: %s", result)
            if pipes is not None and (arguments.available_now or arguments.drain_file):
                pipes.log.info(f"stream caught up: {result}")
                pipes.report_custom_message({"totals": result})
    except KeyboardInterrupt as interrupt:
        log.warning("stream stopped by %s", interrupt or "Ctrl-C")
        return 143 if str(interrupt).startswith("signal") else 130
    except (KafkaAccessError, KafkaUnreachableError, S3TrustError) as refused:  # a setting to fix: one line
        log.error("stream cannot start: %s", refused)
        return 1
    except Exception:
        log.exception("stream failed")
        return 1
    return 0


if __name__ == "__main__":
    run_entry_point(main)  # the job's status, never a library's crash at interpreter exit
