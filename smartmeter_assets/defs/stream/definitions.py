"""The stream's Definitions: the Spark job, the sensor that supervises it, the replay clock."""

from dagster import Definitions, PipesSubprocessClient

from smartmeter_assets.defs.stream.checks import build_stream_checks
from smartmeter_assets.defs.stream.job import build_stream_job
from smartmeter_assets.defs.stream.replay import build_replay_clock
from smartmeter_assets.defs.stream.resources import StreamResource
from smartmeter_assets.defs.stream.sensor import build_stream_sensor
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        asset_checks=build_stream_checks(settings),
        jobs=[build_stream_job(settings.stream_query_name)],
        sensors=[build_stream_sensor(settings), build_replay_clock(settings)],
        resources={
            "stream": StreamResource.from_settings(settings),
            "pipes_subprocess_client": PipesSubprocessClient(),
        },
    )
