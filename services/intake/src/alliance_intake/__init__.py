"""Intake: accepts questionnaire responses over HTTP and publishes them to Kafka via an outbox."""
