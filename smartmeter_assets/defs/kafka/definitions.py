"""The publish path's Definitions: enriched readings and the topic, and the broker they publish to."""

from dagster import Definitions

from smartmeter_assets.defs.kafka.assets import KAFKA_ASSETS
from smartmeter_assets.defs.kafka.resources import KafkaResource
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(assets=KAFKA_ASSETS, resources={"kafka": KafkaResource.from_settings(settings)})
