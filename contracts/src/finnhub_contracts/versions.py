"""Version pins more than one part must agree on.

Read by local-stack (the local JVMs' Maven jar sets), finnhub-images (the Dockerfiles' build
args), the Pulumi program (the pods' version labels, the SparkApplication's sparkVersion, the
Grafana image and the plugin it preinstalls), the dashboards (the plugin's id is their
datasource type) and the tests. The processor's pyproject pins pyspark by hand (a pyproject
cannot import Python): tests/workspace/test_contract_pins.py holds it equal to SPARK_VERSION,
as it does the root pyproject's cqlsh.
"""

KAFKA_VERSION = "4.4.0"
# The newest 5.0 patch release Maven serves here; later 5.0 releases carry security fixes.
CASSANDRA_VERSION = "5.0.9"
# pyspark and its Kafka and Avro connectors are released together, under one version.
SPARK_VERSION = "4.2.0"
SCALA_BINARY_VERSION = "2.13"
# cqlsh for the Cassandra image's schema Job: the 6.2 line is the one for Cassandra 5.0.
CQLSH_VERSION = "6.2.2"
# The newest Grafana line the Cassandra datasource supports: plugin 3.x declares Grafana
# 7.4 through 12.x (not 13), and GF_PLUGINS_PREINSTALL_SYNC, which installs it before the
# provisioning that names it, needs 12.1 or later.
GRAFANA_VERSION = "12.4.5"
# The plugin's id is also the `type` of the provisioned datasource and of every panel's
# datasource reference in the dashboards; its version is pinned, not whatever the catalogue
# serves on the pod's start.
CASSANDRA_DATASOURCE_PLUGIN = "hadesarchitect-cassandra-datasource"
CASSANDRA_DATASOURCE_PLUGIN_VERSION = "3.3.0"
