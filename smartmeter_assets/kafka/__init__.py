"""Kafka: the embedded broker, topic admin and publishing."""
