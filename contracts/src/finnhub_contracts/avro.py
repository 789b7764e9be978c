"""The Kafka value of topic `market`: one Avro schema, shipped as package data.

`trades.avsc` is the current writer (producer) and reader (processor) schema. `writer_schemas/`
keeps every older writer schema once deployed, so records an older producer left in the topic
keep decoding after a schema change.
"""

from __future__ import annotations

from importlib import resources

SCHEMA_FILE = "trades.avsc"
WRITER_SCHEMAS_DIR = "writer_schemas"


def trades_schema() -> str:
    """The current schema's JSON text."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text("utf-8")


def older_writer_schemas() -> list[str]:
    """The JSON text of each older writer schema, by file name."""
    folder = resources.files(__package__).joinpath(WRITER_SCHEMAS_DIR)
    entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    return [entry.read_text("utf-8") for entry in entries if entry.name.endswith(".avsc")]
