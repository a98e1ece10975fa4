"""The Spark stream as Dagster runs it: a Pipes job, its supervisor sensor, the replay clock."""
