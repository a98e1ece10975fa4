"""Peak memory and CPU of a command's process tree, per component (benchmarks' shared sampler).

A ``smartmeter run`` is several processes: the Python process that runs Dagster and publishes
(with its forked producers), the embedded Kafka broker (a JVM), and the stream's Python driver
with its Spark driver JVM and Python workers. The sampler walks the tree every half second and
keeps, per component, the peak of the summed RSS and the CPU seconds each process had used when
last seen (a process's CPU is lost from ``psutil`` once it has exited, so short-lived producers are
counted up to their last sample). The component's peak sums processes that peak at different
moments and pages a fork shares, so the peak of each Python role is kept too (:func:`role_of`).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

import psutil

BROKER = "broker"
SPARK_JVM = "spark driver JVM"
PYTHON = "python"


def component_of(process: psutil.Process) -> str:
    """Which part of the pipeline a process is, from its command line."""
    command = " ".join(process.cmdline())
    if "kafka.Kafka" in command:
        return BROKER
    if process.name().startswith("java"):
        return SPARK_JVM
    return PYTHON


#: Python processes told apart by their command line: (marker, role).
_PYTHON_ROLES = (
    ("smartmeter_assets.detector_run", "detector run"),
    ("smartmeter_assets.stream_run", "stream run (Dagster)"),
    ("smartmeter_assets.stream", "stream driver"),
    ("pyspark", "pyspark workers"),
)


def role_of(process: psutil.Process, root_pid: int) -> str:
    """A Python process's part in the run: the command itself, or which child it is."""
    if process.pid == root_pid:
        return "the command"
    command = " ".join(process.cmdline())
    return next((role for marker, role in _PYTHON_ROLES if marker in command), "other python")


@dataclass
class TreeUsage:
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    #: Python only: the peak of the processes of each role (see :func:`role_of`), summed per sample.
    peak_python_rss_mb: dict[str, float] = field(default_factory=dict)
    #: Per process: its component, its Python role (None for a JVM) and its CPU seconds when last seen.
    cpu_by_pid: dict[int, tuple[str, str | None, float]] = field(default_factory=dict)

    def cpu_seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for component, _, seconds in self.cpu_by_pid.values():
            totals[component] = totals.get(component, 0.0) + seconds
        return totals

    def python_cpu_seconds(self) -> dict[str, float]:
        """The Python component's CPU split by role: which process spends it."""
        totals: dict[str, float] = {}
        for _, role, seconds in self.cpu_by_pid.values():
            if role is not None:
                totals[role] = totals.get(role, 0.0) + seconds
        return totals


class TreeSampler:
    """Samples the tree under ``root_pid`` in a thread until :meth:`stop`."""

    def __init__(self, root_pid: int, every: float = 0.5) -> None:
        self.usage = TreeUsage()
        self._root = psutil.Process(root_pid)
        self._every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        rss: dict[str, float] = {}
        roles: dict[str, float] = {}
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                component = component_of(process)
                times = process.cpu_times()
                megabytes = process.memory_info().rss / 2**20
                rss[component] = rss.get(component, 0.0) + megabytes
                role = role_of(process, self._root.pid) if component == PYTHON else None
                if role is not None:
                    roles[role] = roles.get(role, 0.0) + megabytes
                self.usage.cpu_by_pid[process.pid] = (component, role, times.user + times.system)
            except psutil.Error:
                continue
        for component, megabytes in rss.items():
            self.usage.peak_rss_mb[component] = max(self.usage.peak_rss_mb.get(component, 0.0), megabytes)
        for role, megabytes in roles.items():
            self.usage.peak_python_rss_mb[role] = max(self.usage.peak_python_rss_mb.get(role, 0.0), megabytes)

    def _run(self) -> None:
        while not self._stopped.is_set():
            with contextlib.suppress(psutil.Error):
                self._sample()
            self._stopped.wait(self._every)

    def stop(self) -> TreeUsage:
        self._stopped.set()
        self._thread.join()
        return self.usage
