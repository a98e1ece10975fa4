"""A topic lost as an operator loses it: deleted, and the deletion seen by the broker.

Why wait: the broker's metadata lags a deletion (most on a busy machine), and until it catches up
the topic is still listed with its partitions. Nothing can tell that listing from a live topic, so
``ensure_topic`` called in that moment keeps the old topic, which vanishes a moment later (seen in
CI under load: ensured with 6 partitions, described with 0 right after). A real loss has long
settled by the time the pipeline publishes again; the tests that lose a topic wait for it too.
"""

from __future__ import annotations

import time

from kafka import KafkaAdminClient

DELETION_SETTLE_SECONDS = 30.0


def delete_topic(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` and return once the broker no longer lists it."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic])
        deadline = time.monotonic() + DELETION_SETTLE_SECONDS
        while topic in set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic!r} still listed {DELETION_SETTLE_SECONDS:.0f} s after its deletion")
            time.sleep(0.2)
    finally:
        admin.close()
