"""Code shared by the Alliance services: event contracts, topics and Kafka/PostgreSQL plumbing."""
