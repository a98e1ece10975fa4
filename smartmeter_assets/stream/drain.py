"""Draining: a stream that stops once everything published up to a point is in the lake.

``smartmeter run`` publishes and streams at the same time: the stream starts with its
processing-time trigger before the first day is published, and consumes while later days are
published. It cannot stop when it is idle (a pause between two publishes is not the end), nor use
Spark's available-now trigger (that stops at the offsets present when the query starts). So the
publisher, once its last publish is acknowledged, writes a *drain target*: the topic's end offsets
at that moment. The stream stops at the first check at which its last completed batch reached
them; any later record would be read by the next run from the checkpoint, like any other.

Once the target is written, what is left is read by an available-now query started on the same
checkpoint (between two triggers), batch after batch instead of one batch per tick.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartmeter_assets.stream.checkpoint import partition_offsets


@dataclass(frozen=True)
class DrainTarget:
    topic: str
    end_offsets: dict[int, int]  # partition -> offset after the last record to wait for

    def write(self, path: Path) -> None:
        """Written whole then renamed: the stream never reads half a target."""
        staging = path.with_name(f".{path.name}.{os.getpid()}")
        staging.write_text(json.dumps({"topic": self.topic, "end_offsets": self.end_offsets}))
        staging.replace(path)

    @classmethod
    def read(cls, path: Path) -> DrainTarget | None:
        """The target, or None while the publisher has not written it yet."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(str(data["topic"]), {int(p): int(o) for p, o in data["end_offsets"].items()})

    def reached(self, progress: Any) -> bool:
        """Whether the batch ``progress`` describes (Spark's ``query.lastProgress``) read up to the target.

        A target with nothing to wait for (an empty topic) is reached before any batch.
        """
        waiting = {p: o for p, o in self.end_offsets.items() if o > 0}
        if not waiting:
            return True
        if progress is None:
            return False
        read: dict[int, int] = {}
        for source in progress["sources"]:
            if source["endOffset"]:
                read.update(partition_offsets(source["endOffset"], self.topic))
        return all(read.get(partition, 0) >= offset for partition, offset in waiting.items())
