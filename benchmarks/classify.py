"""The stream's classification alone: messages/s through ``transforms.classify`` on local[2], both parse routes.

No Kafka and no lake: N contract messages are built as Spark's kafka rows, cached, then classified
into Spark's ``noop`` sink R times. The same N messages go twice: as published (the typed route:
the JSON parse with the contract's types takes them) and with ``energy_kwh`` written as text
(``"0.3"``), which the typed parse refuses, so every message takes the text route: the refused
typed parse, then the parse with every field as text. The ratio is what a malformed message costs
against a well-formed one. (Before the typed route, every message took the text parse alone: on
the same machine that ran at 0.89 times the typed route's rate, measured with the code of both.)

It also prints the largest method of the stage's generated code, in bytes of bytecode, and whether
the JVM compiles methods that big: HotSpot leaves a method over 8,000 bytes interpreted unless
``-XX:-DontCompileHugeMethods`` (``stream/session.py`` sets it).

    .venv/bin/python benchmarks/classify.py --messages 400000 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import datetime
from typing import Any

from smartmeter_assets.exit_status import run_entry_point
from smartmeter_assets.settings import Settings
from smartmeter_assets.stream.session import build_session
from smartmeter_assets.stream.transforms import KAFKA_SCHEMA, anomaly_thresholds, classify
from smartmeter_assets.testbed.stream_readings import reading

METERS = 5_000
KAFKA_TIME = datetime(2026, 1, 5, 12, 0)
#: Distinct messages built in Python; the frame repeats them (doubling) up to the size asked.
DISTINCT = 100_000


def kafka_frame(session: Any, messages: int, energy_as_text: bool) -> Any:
    rows = []
    for index in range(min(messages, DISTINCT)):
        message = reading(index, METERS)
        if energy_as_text:
            message["energy_kwh"] = str(message["energy_kwh"])
        value = json.dumps(message).encode()
        rows.append((message["meter_id"].encode(), value, "smart-meter-topic", index % 6, index, KAFKA_TIME, 0))
    frame = session.createDataFrame(rows, KAFKA_SCHEMA)
    while frame.count() < messages:
        frame = frame.union(frame)
    return frame.limit(messages).repartition(2).cache()


def largest_generated_method(session: Any, frame: Any) -> int:
    """Bytes of bytecode of the largest method Spark generates for classifying ``frame``."""
    session.conf.set("spark.sql.adaptive.enabled", "false")  # the plan's stages, not AQE's wrapper
    plan = classify(frame, anomaly_thresholds(Settings()))._jdf.queryExecution().executedPlan()
    stages = session._jvm.org.apache.spark.sql.execution.debug.package.codegenStringSeq(plan)
    sizes, iterator = [], stages.iterator()
    while iterator.hasNext():
        sizes.append(int(iterator.next()._3().maxMethodCodeSize()))
    session.conf.unset("spark.sql.adaptive.enabled")
    return max(sizes, default=0)


def rate(frame: Any, messages: int, runs: int) -> list[float]:
    thresholds = anomaly_thresholds(Settings())
    rates = []
    for _ in range(runs + 1):  # the first run warms the JIT and is left out
        started = time.perf_counter()
        classify(frame, thresholds).write.format("noop").mode("overwrite").save()
        rates.append(messages / (time.perf_counter() - started))
    return rates[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = build_session(Settings())
    session.sparkContext.setLogLevel("ERROR")
    hotspot = session._jvm.java.lang.management.ManagementFactory.getPlatformMXBean(
        session._jvm.java.lang.Class.forName("com.sun.management.HotSpotDiagnosticMXBean")
    )
    figures: dict[str, Any] = {"messages": arguments.messages, "runs": arguments.runs}
    for route, as_text in (("typed route", False), ("text route", True)):
        frame = kafka_frame(session, arguments.messages, as_text)
        rates = rate(frame, arguments.messages, arguments.runs)
        figures[route] = {
            "median_messages_per_second": round(statistics.median(rates)),
            "runs": [round(r) for r in rates],
        }
        if not as_text:
            figures["largest_generated_method_bytes"] = largest_generated_method(session, frame)
        frame.unpersist()
    figures["jvm_compiles_huge_methods"] = hotspot.getVMOption("DontCompileHugeMethods").getValue() == "false"
    typed, text = (figures[r]["median_messages_per_second"] for r in ("typed route", "text route"))
    figures["typed_over_text"] = round(typed / text, 2)
    session.stop()
    print(json.dumps(figures))
    print(
        f"classify on local[2]: typed route {typed:,}/s, text route {text:,}/s (x{typed / text:.2f}); "
        f"largest generated method {figures['largest_generated_method_bytes']:,} bytes "
        f"(HotSpot's limit 8,000; compiled anyway: {figures['jvm_compiles_huge_methods']})"
    )
    return 0


if __name__ == "__main__":
    run_entry_point(main)
