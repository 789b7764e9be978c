"""Kafka topics: the trades (Avro, key = symbol) and the dead letters beside them."""

TOPIC = "market"
DLQ_TOPIC = "market.dlq"
TOPICS = (TOPIC, DLQ_TOPIC)
