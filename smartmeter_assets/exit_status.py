"""How our processes end: with the status of their work, never with a library's teardown crash.

Why this exists: a Python process that read a Delta table with delta-rs can abort while the
interpreter tears down, after its work is done and its output printed (SIGABRT, exit 134,
"terminate called without an active exception"; delta-io/delta-rs#2184). Measured here with
deltalake 1.6: a three-line script that reads a table through ``DeltaTable.to_pyarrow_table()``
aborted in 4 of 40 runs. Dagster fails a Pipes run on a non-zero exit, and users script against
our exit codes, so a finished run must never turn into 134 in a destructor.

Two measures, because each alone leaves a gap:

- the lake is read through pyarrow's own filesystems (:func:`smartmeter_assets.lake.delta.arrow_dataset`),
  which removes the cause we found (delta-rs' Python filesystem handler called from pyarrow's C++
  threads); that also protects processes that are not ours (Dagster's run workers, a user's
  notebook);
- every entry point of ours (the ``smartmeter`` command, ``python -m smartmeter_assets.stream``,
  the benchmarks) ends through :func:`run_entry_point`: once the work has returned (its own
  cleanup done in its ``finally``/``with`` blocks: broker stopped, Spark session stopped, Dagster
  instance closed), the logs and standard streams are flushed and the process leaves with
  ``os._exit(status)``, skipping the interpreter teardown where any other library's destructor
  could still crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

#: What a process killed by Ctrl-C reports (128 + SIGINT), as shells do.
INTERRUPTED = 130


def status_of(stop: SystemExit) -> int:
    """The exit status ``sys.exit(code)`` means: None is 0, an int is itself, anything else is 1."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)
    return 1


def exit_with(status: int) -> NoReturn:
    """Flush the logs and standard streams, then end the process with ``status`` and no teardown."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken pipe: nothing left to deliver
            stream.flush()
    os._exit(status)


def run_entry_point(main: Callable[[], int | None]) -> NoReturn:
    """Run an entry point's ``main`` and exit with the status of its work (see the module docstring).

    ``main`` returns its status (None means 0) or raises ``SystemExit`` (argparse's 2 for bad
    arguments is kept). An unexpected exception is printed with its traceback and exits 1: that is
    a bug, and a bug should be reported in full; bad input never gets here (it has its own message).
    """
    try:
        result = main()
        status = 0 if result is None else int(result)
    except SystemExit as stop:
        status = status_of(stop)
    except KeyboardInterrupt:
        status = INTERRUPTED
    except BaseException:
        traceback.print_exc()
        status = 1
    exit_with(status)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """``preexec_fn`` of a child we start: Linux sends it SIGTERM when its parent dies, however it dies.

    The child also gets a session of its own, so Ctrl-C in a terminal reaches only the parent,
    which stops its children in order (broker, cluster services, the stream run of ``smartmeter run``).

    SIGTERM is set back to its default: an ignored signal stays ignored across ``exec``, and the
    parent may ignore it without knowing. Dagster maps SIGTERM to SIGINT's handler after each run
    in a process, and a job started in the background of a shell ignores SIGINT: a child started
    then ignored both its parent's stop and its parent's death (seen in CI).
    """
    with contextlib.suppress(OSError, ValueError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    os.setsid()
