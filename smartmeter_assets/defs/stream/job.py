"""The stream job: one op that runs the Spark job through Dagster Pipes and reports its batches.

Why Pipes: the Spark driver is its own process (a JVM behind it), so its crash must fail the run,
never look like success (dagster-io/dagster#17868): ``PipesSubprocessClient`` raises on a non-zero
exit code. The job side logs each micro-batch through Pipes, so the figures appear live in the
run's log viewer; the op adds the totals to its output metadata when the job ends.
"""

from dagster import (
    Config,
    JobDefinition,
    Nothing,
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


class StreamRunConfig(Config):
    available_now: bool = False  # process everything published, then stop (tests, a user's catch-up run)
    # Run until the drain target a publisher writes to this file is in the lake (smartmeter run,
    # which publishes while the stream consumes); see smartmeter_assets.stream.drain.
    drain_file: str = ""


def run_totals(messages: list[object]) -> dict[str, object]:
    """The totals an available-now run reports last (``{"totals": {...}}``); empty otherwise."""
    for message in reversed(messages):
        if isinstance(message, dict) and isinstance(message.get("totals"), dict):
            return message["totals"]
    return {}


@op(out=Out(Nothing), tags={"kind": "spark"})
def run_stream(
    context: OpExecutionContext,
    config: StreamRunConfig,
    stream: StreamResource,
    pipes_subprocess_client: PipesSubprocessClient,
) -> Output[None]:
    """Run the Spark Structured Streaming job until it stops (available-now, drained) or fails."""
    command = stream.command(available_now=config.available_now, drain_file=config.drain_file)
    context.log.info(f"launching the stream: {' '.join(command)}")
    invocation = pipes_subprocess_client.run(command=command, context=context, env=stream.env())
    totals = run_totals(invocation.get_custom_messages())
    context.log.info(f"stream ended: {totals}")
    metadata = {key: value for key, value in totals.items() if isinstance(value, int | float | str)}
    return Output(None, metadata=metadata)  # Nothing-typed: the lake is the output, no IO manager


def build_stream_job(query_name: str) -> JobDefinition:
    @job(name=STREAM_JOB, tags={STREAM_TAG: query_name}, description="The Spark stream, launched through Pipes.")
    def smart_meter_stream() -> None:
        run_stream()

    return smart_meter_stream
