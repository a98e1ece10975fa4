"""The production topology (docker-compose.yml) as local processes: ``smartmeter cluster``.

One module per service (kafka, minio, spark, postgres, dagster), the addresses and environment
they share (topology), the supervisor that starts and restarts them, and the fault-injection
check. An entry-point layer: it starts what the engines and the Dagster definitions need.
"""
