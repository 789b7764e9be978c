"""CassandraStack: Cassandra with authentication on, and a Job that applies the schema.

Readiness means "accepts CQL": the probe speaks the CQL native protocol (an OPTIONS request must
be answered by SUPPORTED), so a node that listens but still bootstraps is not sent traffic. The
schema Job waits for the same thing with a bounded retry loop, never a fixed sleep, then applies
`schemas/cassandra-setup.cql` and raises keyspace `market` to the stack's replication factor
(the file keeps RF 1 on purpose, for the local single node).

Roles: the image's default superuser `cassandra/cassandra` is replaced on first run by a
generated superuser, which then creates `finnhub` (processor: read and write `market`) and
`grafana` (read only). Every password is generated and reaches pods only through Secrets; the
Job writes them into files on a memory volume, so they never show in a process's argv.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from finnhub_infra.components import manifests
from finnhub_infra.components.conventions import image_tag, recommended_labels, secret_env
from finnhub_infra.config import CassandraConfig

NAME = "cassandra"
SCHEMA_JOB = "cassandra-schema"
CREDENTIALS_SECRET = "cassandra-credentials"
SCHEMA_CONFIGMAP = "cassandra-schema"
CQL_PORT = 9042
GOSSIP_PORT = 7000
# The official image's `cassandra` user.
CASSANDRA_UID = 999
DATACENTER = "dc1"
KEYSPACE = "market"
SCHEMA_FILE = "cassandra-setup.cql"

# Keys of the credentials Secret. Processor and Grafana read only their own pair.
ADMIN_USER_KEY = "admin-username"
ADMIN_PASSWORD_KEY = "admin-password"
APP_USER_KEY = "app-username"
APP_PASSWORD_KEY = "app-password"
GRAFANA_USER_KEY = "grafana-username"
GRAFANA_PASSWORD_KEY = "grafana-password"

# A CQL v4 OPTIONS frame; a node that accepts CQL answers with opcode 0x06 (SUPPORTED).
CQL_READY_PROBE = (
    "import socket,sys\n"
    "s=socket.create_connection(('127.0.0.1',9042),3)\n"
    "s.sendall(bytes([4,0,0,0,5,0,0,0,0]))\n"
    "h=s.recv(9)\n"
    "sys.exit(0 if len(h)==9 and h[4]==6 else 1)\n"
)


@dataclass(frozen=True)
class CassandraStackArgs:
    namespace: pulumi.Input[str]
    config: CassandraConfig
    storage_class: str
    schema_path: Path


def node_dns(index: int, namespace: str) -> str:
    return f"{NAME}-{index}.{NAME}.{namespace}.svc.cluster.local"


def contact_points(namespace: str) -> str:
    """CASSANDRA_HOSTS for clients: the headless Service name resolves to every ready node."""
    return f"{NAME}.{namespace}.svc.cluster.local"


def start_script() -> str:
    """Turn on password authentication, then hand over to the image's own entrypoint.

    The image has no environment switch for the authenticator, so the stock configuration is
    copied to a writable volume and its `authenticator`/`authorizer` blocks are replaced.
    """
    return (
        "set -eu\n"
        "cp -R /etc/cassandra/. /config/\n"
        "awk '/^(authenticator|authorizer):/ {skip=1; next}"
        " skip && /^[[:space:]]/ {next} {skip=0; print}'"
        " /etc/cassandra/cassandra.yaml > /config/cassandra.yaml\n"
        "printf 'authenticator: PasswordAuthenticator\\nauthorizer: CassandraAuthorizer\\n'"
        " >> /config/cassandra.yaml\n"
        "export CASSANDRA_CONF=/config\n"
        "exec docker-entrypoint.sh cassandra -f\n"
    )


def headless_service_manifest(namespace: str, cfg: CassandraConfig) -> dict[str, Any]:
    return manifests.service(
        NAME,
        namespace,
        recommended_labels(NAME, "database", image_tag(cfg.image)),
        NAME,
        {"cql": CQL_PORT, "gossip": GOSSIP_PORT},
        headless=True,
    )


def statefulset_manifest(
    namespace: str, cfg: CassandraConfig, storage_class: str
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "database", image_tag(cfg.image))
    seeds = ",".join(node_dns(i, namespace) for i in range(min(cfg.replicas, 2)))
    container = manifests.container(
        NAME,
        cfg.image,
        cfg.resources.to_manifest(),
        read_only_root=False,
        command=["/bin/bash", "-c", start_script()],
        env=[
            {"name": "CASSANDRA_CLUSTER_NAME", "value": cfg.cluster_name},
            {"name": "CASSANDRA_SEEDS", "value": seeds},
            {"name": "CASSANDRA_DC", "value": DATACENTER},
            {"name": "CASSANDRA_RACK", "value": "rack1"},
            {"name": "CASSANDRA_ENDPOINT_SNITCH", "value": "GossipingPropertyFileSnitch"},
            {"name": "MAX_HEAP_SIZE", "value": cfg.heap},
            {"name": "HEAP_NEWSIZE", "value": "200M"},
            {
                "name": "POD_IP",
                "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
            },
            {"name": "CASSANDRA_LISTEN_ADDRESS", "value": "$(POD_IP)"},
            {"name": "CASSANDRA_BROADCAST_ADDRESS", "value": "$(POD_IP)"},
        ],
        ports={"cql": CQL_PORT, "gossip": GOSSIP_PORT},
        readiness={
            "exec": {"command": ["python3", "-c", CQL_READY_PROBE]},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
        },
        liveness=manifests.tcp_probe(CQL_PORT, initial_delay=180, period=30, failure_threshold=5),
        volume_mounts=[
            {"name": "data", "mountPath": "/var/lib/cassandra"},
            {"name": "config", "mountPath": "/config"},
            {"name": "logs", "mountPath": "/var/log/cassandra"},
        ],
    )
    template = manifests.pod_template(
        labels,
        [container],
        uid=CASSANDRA_UID,
        termination_grace_seconds=120,
        volumes=[
            {"name": "config", "emptyDir": {"sizeLimit": "16Mi"}},
            {"name": "logs", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    )
    return manifests.stateful_set(
        NAME,
        namespace,
        labels,
        service_name=NAME,
        replicas=cfg.replicas,
        pod_management_policy="OrderedReady",
        template=template,
        volume_claim=manifests.data_volume_claim(labels, storage_class, cfg.storage_size),
    )


def schema_job_script(
    namespace: str,
    cfg: CassandraConfig,
    work_dir: str = "/work",
    schema_dir: str = "/schema",
    retry_seconds: int = 5,
    deadline_seconds: int = 900,
) -> str:
    """The schema Job's shell script; see the module docstring for what it does and why.
    Directories and timing are parameters so tests can run the script against a fake cqlsh."""
    host = contact_points(namespace)
    rf = cfg.replication_factor
    return f"""set -eu
umask 077
work={work_dir}
host={host}
port={CQL_PORT}
nts="{{'class': 'NetworkTopologyStrategy', '{DATACENTER}': {rf}}}"
creds() {{
  printf '[PlainTextAuthProvider]\\nusername = %s\\npassword = %s\\n' "$1" "$2" > "$work/$3"
}}
creds "$ADMIN_USER" "$ADMIN_PASSWORD" admin.cred
creds cassandra cassandra default.cred
as_admin() {{ cqlsh --credentials="$work/admin.cred" --request-timeout=60 "$host" "$port" "$@"; }}
probe() {{
  cqlsh --credentials="$work/$1" --connect-timeout=5 "$host" "$port" \\
    -e 'SELECT release_version FROM system.local' >/dev/null 2>&1
}}

deadline=$(( $(date +%s) + {deadline_seconds} ))
login=""
while [ -z "$login" ]; do
  if probe admin.cred; then login=admin.cred
  elif probe default.cred; then login=default.cred
  elif [ "$(date +%s)" -ge "$deadline" ]; then
    echo "Cassandra at $host:$port accepted no CQL login within {deadline_seconds} s" >&2; exit 1
  else sleep {retry_seconds}
  fi
done

if [ "$login" = default.cred ]; then
  cat > "$work/admin.cql" <<EOF
CREATE ROLE IF NOT EXISTS "$ADMIN_USER"
  WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = '$ADMIN_PASSWORD';
EOF
  cqlsh --credentials="$work/default.cred" "$host" "$port" -f "$work/admin.cql"
  as_admin -e "ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false"
fi

as_admin -f {schema_dir}/{SCHEMA_FILE}
cat > "$work/roles.cql" <<EOF
ALTER KEYSPACE {KEYSPACE} WITH replication = $nts;
ALTER KEYSPACE system_auth WITH replication = $nts;
CREATE ROLE IF NOT EXISTS "$APP_USER" WITH LOGIN = true AND PASSWORD = '$APP_PASSWORD';
ALTER ROLE "$APP_USER" WITH PASSWORD = '$APP_PASSWORD';
GRANT SELECT ON KEYSPACE {KEYSPACE} TO "$APP_USER";
GRANT MODIFY ON KEYSPACE {KEYSPACE} TO "$APP_USER";
CREATE ROLE IF NOT EXISTS "$GRAFANA_USER" WITH LOGIN = true AND PASSWORD = '$GRAFANA_PASSWORD';
ALTER ROLE "$GRAFANA_USER" WITH PASSWORD = '$GRAFANA_PASSWORD';
GRANT SELECT ON KEYSPACE {KEYSPACE} TO "$GRAFANA_USER";
EOF
as_admin -f "$work/roles.cql"
as_admin -e "DESCRIBE KEYSPACE {KEYSPACE}" | head -n 3
"""


def schema_configmap_manifest(namespace: str, cfg: CassandraConfig, cql: str) -> dict[str, Any]:
    return manifests.config_map(
        SCHEMA_CONFIGMAP,
        namespace,
        recommended_labels(SCHEMA_JOB, "schema-init", image_tag(cfg.image)),
        {SCHEMA_FILE: cql, "apply-schema.sh": schema_job_script(namespace, cfg)},
    )


def schema_job_manifest(namespace: str, cfg: CassandraConfig, schema_hash: str) -> dict[str, Any]:
    labels = recommended_labels(SCHEMA_JOB, "schema-init", image_tag(cfg.image))
    env = [
        secret_env("ADMIN_USER", CREDENTIALS_SECRET, ADMIN_USER_KEY),
        secret_env("ADMIN_PASSWORD", CREDENTIALS_SECRET, ADMIN_PASSWORD_KEY),
        secret_env("APP_USER", CREDENTIALS_SECRET, APP_USER_KEY),
        secret_env("APP_PASSWORD", CREDENTIALS_SECRET, APP_PASSWORD_KEY),
        secret_env("GRAFANA_USER", CREDENTIALS_SECRET, GRAFANA_USER_KEY),
        secret_env("GRAFANA_PASSWORD", CREDENTIALS_SECRET, GRAFANA_PASSWORD_KEY),
        {"name": "HOME", "value": "/work"},
    ]
    container = manifests.container(
        "apply-schema",
        cfg.image,
        {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        read_only_root=True,
        command=["/bin/bash", "/schema/apply-schema.sh"],
        env=env,
        volume_mounts=[
            {"name": "schema", "mountPath": "/schema", "readOnly": True},
            {"name": "work", "mountPath": "/work"},
        ],
    )
    template = manifests.pod_template(
        labels,
        [container],
        uid=CASSANDRA_UID,
        # A changed schema file changes the template, so Pulumi replaces the Job.
        annotations={"finnhub/schema-sha256": schema_hash},
        restart_policy="OnFailure",
        volumes=[
            {"name": "schema", "configMap": {"name": SCHEMA_CONFIGMAP}},
            # Credential files live in memory only, for the Job's lifetime.
            {"name": "work", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        ],
    )
    return manifests.job(SCHEMA_JOB, namespace, labels, deadline_seconds=1800, template=template)


def credentials_secret_manifest(
    namespace: str,
    cfg: CassandraConfig,
    admin_password: pulumi.Input[str],
    app_password: pulumi.Input[str],
    grafana_password: pulumi.Input[str],
) -> dict[str, Any]:
    return manifests.secret(
        CREDENTIALS_SECRET,
        namespace,
        recommended_labels(NAME, "database", image_tag(cfg.image)),
        {
            ADMIN_USER_KEY: "finnhub_admin",
            ADMIN_PASSWORD_KEY: admin_password,
            APP_USER_KEY: cfg.username,
            APP_PASSWORD_KEY: app_password,
            GRAFANA_USER_KEY: "grafana",
            GRAFANA_PASSWORD_KEY: grafana_password,
        },
    )


def _password(name: str, opts: pulumi.ResourceOptions) -> random.RandomPassword:
    # Letters and digits only: the passwords are embedded in CQL string literals.
    return random.RandomPassword(name, length=32, special=False, opts=opts)


class CassandraStack(pulumi.ComponentResource):
    """Cassandra nodes, their credentials Secret and the schema Job."""

    contact_points: pulumi.Output[str]
    port: int
    keyspace: str
    credentials_secret_name: str
    schema_job_name: str

    def __init__(
        self, name: str, args: CassandraStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:CassandraStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config
        cql = args.schema_path.read_text()
        schema_hash = hashlib.sha256(cql.encode()).hexdigest()

        admin = _password(f"{name}-admin-password", child)
        app = _password(f"{name}-app-password", child)
        grafana = _password(f"{name}-grafana-password", child)
        secret = ns.apply(
            lambda n: credentials_secret_manifest(n, cfg, admin.result, app.result, grafana.result)
        )
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=secret.apply(lambda m: m["metadata"]),
            type="Opaque",
            string_data=secret.apply(lambda m: m["stringData"]),
            opts=child,
        )
        service = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-headless",
            ns.apply(lambda n: headless_service_manifest(n, cfg)),
            child,
            spec="spec",
        )
        statefulset = manifests.resource_from_manifest(
            k8s.apps.v1.StatefulSet,
            f"{name}-nodes",
            ns.apply(lambda n: statefulset_manifest(n, cfg, args.storage_class)),
            pulumi.ResourceOptions(parent=self, depends_on=[service]),
            spec="spec",
        )
        schema_cm = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap,
            f"{name}-schema",
            ns.apply(lambda n: schema_configmap_manifest(n, cfg, cql)),
            child,
            data="data",
        )
        self.schema_job = manifests.resource_from_manifest(
            k8s.batch.v1.Job,
            f"{name}-schema",
            ns.apply(lambda n: schema_job_manifest(n, cfg, schema_hash)),
            pulumi.ResourceOptions(
                parent=self,
                # Pulumi waits for the StatefulSet's pods to be ready before the Job starts;
                # the Job's own retry loop covers the gap until CQL logins work.
                depends_on=[statefulset, schema_cm, credentials],
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
            spec="spec",
        )

        self.contact_points = ns.apply(contact_points)
        self.port = CQL_PORT
        self.keyspace = KEYSPACE
        self.credentials_secret_name = CREDENTIALS_SECRET
        self.schema_job_name = SCHEMA_JOB
        self.register_outputs(
            {
                "contact_points": self.contact_points,
                "port": CQL_PORT,
                "keyspace": KEYSPACE,
                "credentials_secret_name": CREDENTIALS_SECRET,
            }
        )
