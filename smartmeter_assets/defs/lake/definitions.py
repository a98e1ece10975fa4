"""The lake's Definitions: its observable tables, their checks, maintenance, and the lake resources.

The ``lake`` resource and the IO manager are declared here, once, though the sources and the
reports use them too: :func:`Definitions.merge` accepts a resource key from one folder only.
"""

from dagster import Definitions

from smartmeter_assets.defs.lake.assets import lake_tables
from smartmeter_assets.defs.lake.checks import build_lake_checks
from smartmeter_assets.defs.lake.io_manager import LakeParquetIOManager
from smartmeter_assets.defs.lake.maintenance import build_maintenance_job, build_maintenance_schedule
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.settings import Settings


def build_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[lake_tables],
        asset_checks=build_lake_checks(settings),
        jobs=[build_maintenance_job()],
        schedules=[build_maintenance_schedule(settings)],
        resources={
            "io_manager": LakeParquetIOManager(url=settings.lake_root, allow_http=settings.s3_allow_http),
            "lake": LakeResource.from_settings(settings),
        },
    )
