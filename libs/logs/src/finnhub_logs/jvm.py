"""Spark's side: its JVMs log through log4j2, pointed at `log4j2.properties` beside this module.

pyspark 4.2 ships log4j2 with its JSON template layout (log4j-layout-template-json). Spark's own
JSON template, used with `spark.log.structuredLogging.enabled`, names the fields `ts`, `msg`,
`context` and upper-cases levels; ours renders the Python events' keys instead (and flattens in
whatever context Spark puts in log4j's MDC), so one parser reads every line of a pod.

log4j2 reads LOG4J_CONFIGURATION_FILE from the environment of every JVM: the one pyspark launches
locally, and on Kubernetes the submitter, driver and executors, whose image sets it
(apps/processor/Dockerfile).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

LOG4J_CONFIG_VARIABLE = "LOG4J_CONFIGURATION_FILE"
LOG4J2_PROPERTIES = Path(__file__).with_name("log4j2.properties")


def use_json_jvm_logs(environ: MutableMapping[str, str] = os.environ) -> None:
    """Every JVM started from this environment logs JSON events; a configuration set on purpose
    (the variable already set) is kept."""
    environ.setdefault(LOG4J_CONFIG_VARIABLE, str(LOG4J2_PROPERTIES))
