"""``lake_maintenance``: a scheduled job that keeps the lake's Delta tables healthy (see lake.maintenance).

A job rather than an asset: it changes no data, only how the tables are stored; what it did shows
in the run's metadata (files before/after per table) and as observations on the lake assets.
"""

from dagster import (
    Config,
    DefaultScheduleStatus,
    JobDefinition,
    MetadataValue,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    job,
    op,
)

from smartmeter_assets.contracts import LAKE_TABLES
from smartmeter_assets.defs.lake.assets import lake_asset_key, observation_events
from smartmeter_assets.defs.lake.resources import LakeResource
from smartmeter_assets.lake.maintenance import maintain_lake
from smartmeter_assets.settings import Settings

MAINTENANCE_JOB = "lake_maintenance"
_KEYS = {table.name: lake_asset_key(table) for table in LAKE_TABLES}


class MaintenanceConfig(Config):
    retention_hours: int = Settings.model_fields["lake_vacuum_retention_hours"].default
    settle_days: int = 1  # partitions this many days behind the newest are compacted


@op(tags={"kind": "delta"})
def maintain(context: OpExecutionContext, config: MaintenanceConfig, lake: LakeResource) -> Output[None]:
    """Compact settled partitions, vacuum, checkpoint the logs of every lake table."""
    results = maintain_lake(lake.lake(), retention_hours=config.retention_hours, settle_days=config.settle_days)
    for result in results:
        context.log.info(f"{result.table}: {result.as_dict()}")
    # a whole observation per table (data version, last update), not only what maintenance did:
    # Dagster judges an observed asset by its latest observation alone
    done = {_KEYS[r.table]: {"maintenance": MetadataValue.json(r.as_dict())} for r in results if r.table in _KEYS}
    for event in observation_events(lake.lake(), extra=done):
        context.log_event(event)
    summary = {r.table: MetadataValue.json(r.as_dict()) for r in results}
    return Output(None, metadata=summary)


def build_maintenance_job() -> JobDefinition:
    @job(name=MAINTENANCE_JOB, description="Compact, vacuum and checkpoint the lake's Delta tables.")
    def lake_maintenance() -> None:
        maintain()

    return lake_maintenance


def build_maintenance_schedule(settings: Settings) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="lake_maintenance_schedule",
        job_name=MAINTENANCE_JOB,
        cron_schedule=settings.lake_maintenance_cron,
        run_config={"ops": {"maintain": {"config": {"retention_hours": settings.lake_vacuum_retention_hours}}}},
        default_status=DefaultScheduleStatus.RUNNING,
        description="The lake's maintenance on a clock (SMARTMETER_LAKE_MAINTENANCE_CRON).",
    )
