"""Kafka as Dagster sees it: the resource, the daily partitions, the enrich and publish assets."""
