"""Local stack launcher: real Apache Kafka (KRaft) and PostgreSQL without a Docker engine, and
the four services as processes (`python -m alliance_devstack --help`)."""
