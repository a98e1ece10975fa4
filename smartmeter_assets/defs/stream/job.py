"""The stream job: one op that runs the Spark job through Dagster Pipes and reports its batches.

Why Pipes: the Spark driver is its own process (a JVM behind it), so its crash must fail the run,
never look like success (dagster-io/dagster#17868): ``PipesSubprocessClient`` raises on a non-zero
exit code. The job side logs each micro-batch through Pipes, so the figures appear live in the
run's log viewer; the op adds the totals to its output metadata when the job ends.
"""

from collections import Counter

from dagster import (
    Config,
    JobDefinition,
    OpExecutionContext,
    Out,
    Output,
    PipesSubprocessClient,
    job,
    op,
)

from smartmeter_assets.defs.stream.resources import StreamResource

STREAM_JOB = "smart_meter_stream"
#: Runs carrying this tag with the same value share one checkpoint: never two at once.
STREAM_TAG = "smartmeter/stream"
SUMMED = ("input_rows", "raw_rows_written", "rejected_rows", "anomaly_rows", "late_rows_dropped",
          "aggregated_rows_written", "duplicate_rows")  # fmt: skip


class StreamRunConfig(Config):
    available_now: bool = False  # process everything published, then stop (make run, tests)


def batch_totals(messages: list[dict]) -> dict[str, int]:
    """Sum the per-batch figures the job reported (its custom Pipes messages)."""
    totals: Counter[str] = Counter()
    for message in messages:
        if isinstance(message, dict) and "batch_id" in message:
            totals["batches"] += 1
            for key in SUMMED:
                totals[key] += int(message.get(key) or 0)
    return dict(totals)


@op(out=Out(dict), tags={"kind": "spark"})
def run_stream(
    context: OpExecutionContext,
    config: StreamRunConfig,
    stream: StreamResource,
    pipes_subprocess_client: PipesSubprocessClient,
) -> Output[dict]:
    """Run the Spark Structured Streaming job until it stops (available-now) or fails."""
    command = stream.command(available_now=config.available_now)
    context.log.info(f"launching the stream: {' '.join(command)}")
    invocation = pipes_subprocess_client.run(command=command, context=context, env=stream.env())
    totals = batch_totals(invocation.get_custom_messages())
    context.log.info(f"stream ended: {totals}")
    return Output(totals, metadata={key: value for key, value in totals.items()})


def build_stream_job(query_name: str) -> JobDefinition:
    @job(name=STREAM_JOB, tags={STREAM_TAG: query_name}, description="The Spark stream, launched through Pipes.")
    def smart_meter_stream() -> None:
        run_stream()

    return smart_meter_stream
