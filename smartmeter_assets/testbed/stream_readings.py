"""Synthetic readings published to a topic, for the stream's tests and benchmarks.

Messages follow the contract (14 fields, JSON, key = meter_id), in day order like the replay
publishes them; ``poison`` messages are mixed in at known positions so a test can find each one in
``rejected/``. Published with kafka-python, lz4, straight from here (not the project's publisher,
so a bug there cannot hide one here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from smartmeter_assets.contracts import ACORN_CATEGORIES, ACORN_GROUPS, TARIFFS, TIMESTAMP_FORMAT

FIRST_DAY = datetime(2013, 1, 1)
POISON: tuple[bytes, ...] = (
    b"{not json",
    json.dumps({"meter_id": "MAC999999", "timestamp": "2013-01-01 00:00:00", "energy_kwh": -1.0}).encode(),
    json.dumps({"meter_id": "", "timestamp": "2013-01-01 00:00:00", "energy_kwh": 0.1}).encode(),
    json.dumps({"meter_id": "MAC999998", "timestamp": "1999-01-01 00:00:00", "energy_kwh": 0.1}).encode(),
)


def reading(index: int, meters: int) -> dict[str, Any]:
    """The ``index``-th reading of a replay of ``meters`` meters, half-hour after half-hour."""
    meter = index % meters
    stamp = FIRST_DAY + timedelta(minutes=30 * (index // meters))
    energy = round(0.05 + ((index * 7919) % 1000) / 400.0, 3)  # 0.05 .. 2.55 kWh: every level
    return {
        "meter_id": f"MAC{meter:06d}",
        "timestamp": stamp.strftime(TIMESTAMP_FORMAT),
        "energy_kwh": energy,
        "tariff_type": TARIFFS[meter % len(TARIFFS)],
        "acorn_group": ACORN_GROUPS[meter % len(ACORN_GROUPS)],
        "acorn_category": ACORN_CATEGORIES[meter % len(ACORN_CATEGORIES)],
        "temperature": None if meter % 11 == 0 else round(-2.0 + (index % 300) / 10.0, 1),
        "humidity": 0.8,
        "wind_speed": 3.2,
        "cloud_cover": 0.4,
        "weather_summary": "Overcast",
        "precip_intensity": None,
        "pressure": 1011.5,
        "ingestion_time": "2026-01-05T12:00:00.000Z",
    }


@dataclass
class Published:
    """What a test published: the valid reading keys, and how many poison messages."""

    readings: set[tuple[str, str]] = field(default_factory=set)
    messages: int = 0
    poison: int = 0
    republished: int = 0


def messages(first: int, count: int, meters: int, poison_every: int = 0) -> Iterator[tuple[bytes, bytes, bool]]:
    """(key, value, is_poison) for readings ``first .. first+count-1``, poison every N readings."""
    for index in range(first, first + count):
        body = reading(index, meters)
        yield body["meter_id"].encode(), json.dumps(body).encode(), False
        if poison_every and index % poison_every == poison_every - 1:
            yield b"poison", POISON[(index // poison_every) % len(POISON)], True


def ensure_topic(bootstrap: str, topic: str, partitions: int = 6) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def publish(
    bootstrap: str,
    topic: str,
    first: int,
    count: int,
    meters: int,
    poison_every: int = 0,
    into: Published | None = None,
) -> Published:
    """Publish readings (and poison) to ``topic``; returns/extends the record of what was sent."""
    record = into or Published()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, compression_type="lz4", linger_ms=20, batch_size=1024 * 1024, acks=1
    )
    try:
        for key, value, poisoned in messages(first, count, meters, poison_every):
            producer.send(topic, key=key, value=value)
            record.messages += 1
            if poisoned:
                record.poison += 1
            else:
                body = json.loads(value)
                if (body["meter_id"], body["timestamp"]) in record.readings:
                    record.republished += 1
                record.readings.add((body["meter_id"], body["timestamp"]))
        producer.flush()
    finally:
        producer.close()
    return record
