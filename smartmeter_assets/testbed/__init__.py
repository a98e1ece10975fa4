"""Synthetic workloads the tests and the benchmarks drive the system with.

In the package, not in the test package, so a benchmark never imports a test module: readings
published to a topic (:mod:`.stream_readings`), the stream killed at random moments
(:mod:`.stream_kill`), and lakes landed the way the stream lands them (:mod:`.landed_lake`).
Nothing in the pipeline imports this package.
"""
