"""CassandraStack: Cassandra with authentication on, and a Job that applies the schema.

Readiness means "accepts CQL": the probe speaks the CQL native protocol (an OPTIONS request must
be answered by SUPPORTED), so a node that listens but still bootstraps is not sent traffic. The
schema Job waits for the same thing with a bounded retry loop, never a fixed sleep, then applies
the contracts' `cassandra-setup.cql` (finnhub_contracts.cassandra) and raises keyspace `market`
to the stack's replication factor (the file keeps RF 1 on purpose, for the local single node).

The pods run the project's own Cassandra image (the jar set local-stack runs, at the version
pinned in `finnhub_contracts.versions`); its config files and commands are rendered in
`cassandra_container` and delivered by a ConfigMap. Nodes find their seeds through a second
headless Service that also lists pods not ready yet (the first seed must resolve itself while it
boots); clients use `cassandra`, which lists only nodes that accept CQL.

Roles: Cassandra's default superuser `cassandra/cassandra` is replaced on first run by a
generated superuser, which then creates `finnhub` (processor: read and write `market`) and
`grafana` (read only). Every password is generated and reaches pods only through Secrets; the
Job writes them into files on a memory volume, so they never show in a process's argv.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from finnhub_contracts.cassandra import CQL_FILE, KEYSPACE, setup_cql
from finnhub_contracts.versions import CASSANDRA_VERSION

from finnhub_infra.components import cassandra_container, manifests
from finnhub_infra.components.cassandra_container import (
    POD_NETWORK,
    POD_PATHS,
    NodeNetwork,
    NodePaths,
)
from finnhub_infra.components.conventions import recommended_labels, secret_env
from finnhub_infra.components.inputs import derive
from finnhub_infra.config import CassandraConfig

NAME = "cassandra"
PEERS = "cassandra-peers"
CONFIGMAP = "cassandra-config"
SCHEMA_JOB = "cassandra-schema"
CREDENTIALS_SECRET = "cassandra-credentials"
SCHEMA_CONFIGMAP = "cassandra-schema"
CQL_PORT = POD_NETWORK.cql_port
GOSSIP_PORT = POD_NETWORK.storage_port
# The image's `cassandra` user (images/cassandra/Dockerfile).
CASSANDRA_UID = 999
DATACENTER = cassandra_container.DATACENTER
SCHEMA_FILE = CQL_FILE

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
    # The pinned (digest) reference of the project's Cassandra image, from AppImages.
    image: pulumi.Input[str]


def node_dns(index: int, namespace: str) -> str:
    return f"{NAME}-{index}.{PEERS}.{namespace}.svc.cluster.local"


def contact_points(namespace: str) -> str:
    """CASSANDRA_HOSTS for clients: the headless Service name resolves to every ready node."""
    return f"{NAME}.{namespace}.svc.cluster.local"


def seeds(replicas: int, namespace: str) -> str:
    """The first two nodes (or the only one) seed the ring."""
    return ",".join(node_dns(i, namespace) for i in range(min(replicas, 2)))


def node_labels() -> dict[str, str]:
    return recommended_labels(NAME, "database", CASSANDRA_VERSION)


def headless_service_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return manifests.service(
        NAME,
        namespace,
        node_labels(),
        NAME,
        {"cql": CQL_PORT, "gossip": GOSSIP_PORT},
        headless=True,
    )


def peers_service_manifest(namespace: pulumi.Input[str]) -> dict[str, Any]:
    return manifests.service(
        PEERS,
        namespace,
        node_labels(),
        NAME,
        {"gossip": GOSSIP_PORT},
        headless=True,
        # Seeds must resolve before they are ready: the first node seeds itself while booting.
        publish_not_ready=True,
    )


def config_map_manifest(
    namespace: pulumi.Input[str],
    cfg: CassandraConfig,
    seed_list: str | None = None,
    network: NodeNetwork = POD_NETWORK,
    paths: NodePaths = POD_PATHS,
) -> dict[str, Any]:
    files = derive(
        namespace,
        lambda n: cassandra_container.config_files(
            cfg, seeds(cfg.replicas, n) if seed_list is None else seed_list, network, paths
        ),
    )
    return manifests.config_map(CONFIGMAP, namespace, node_labels(), files)


def files_sha256(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def statefulset_manifest(
    namespace: pulumi.Input[str],
    cfg: CassandraConfig,
    storage_class: str,
    image: pulumi.Input[str],
    paths: NodePaths = POD_PATHS,
    config_files_sha256: pulumi.Input[str] = "",
) -> dict[str, Any]:
    """Nodes: an init container renders the pod's cassandra.yaml, then CassandraDaemon runs
    from the image's jars with the rendered JVM options (no image entrypoint is involved)."""
    labels = node_labels()
    mounts = [
        {"name": "data", "mountPath": paths.data},
        {"name": "templates", "mountPath": paths.templates, "readOnly": True},
        {"name": "config", "mountPath": paths.config},
    ]
    prepare = manifests.container(
        "prepare-node",
        image,
        {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        read_only_root=True,
        command=cassandra_container.prepare_command(paths),
        env=[{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        volume_mounts=mounts,
    )
    node = manifests.container(
        NAME,
        image,
        cfg.resources.to_manifest(),
        read_only_root=False,
        command=cassandra_container.node_command(paths),
        ports={"cql": CQL_PORT, "gossip": GOSSIP_PORT},
        readiness={
            "exec": {"command": ["python3", "-c", CQL_READY_PROBE]},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
        },
        liveness=manifests.tcp_probe(CQL_PORT, initial_delay=180, period=30, failure_threshold=5),
        volume_mounts=mounts,
    )
    template = manifests.pod_template(
        labels,
        [node],
        init_containers=[prepare],
        uid=CASSANDRA_UID,
        termination_grace_seconds=120,
        # A changed config file changes the template, so the nodes roll.
        annotations={"finnhub/config-sha256": config_files_sha256},
        volumes=[
            {"name": "templates", "configMap": {"name": CONFIGMAP}},
            {"name": "config", "emptyDir": {"sizeLimit": "1Mi"}},
        ],
    )
    return manifests.stateful_set(
        NAME,
        namespace,
        labels,
        service_name=PEERS,
        replicas=cfg.replicas,
        pod_management_policy="OrderedReady",
        template=template,
        volume_claim=manifests.data_volume_claim(labels, storage_class, cfg.storage_size),
        delete_claims=cfg.delete_claims,
    )


def schema_job_script(
    namespace: str,
    cfg: CassandraConfig,
    work_dir: str = "/work",
    schema_dir: str = "/schema",
    retry_seconds: int = 5,
    deadline_seconds: int = 900,
    address: tuple[str, int] | None = None,
) -> str:
    """The schema Job's shell script; see the module docstring for what it does and why.
    Directories, timing and the node's address (default: the client Service) are parameters
    so tests can run the script against a fake cqlsh, or a real node on loopback."""
    host, port = address or (contact_points(namespace), CQL_PORT)
    rf = cfg.replication_factor
    return f"""set -eu
umask 077
work={work_dir}
host={host}
port={port}
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
GRANT SELECT ON KEYSPACE {KEYSPACE} TO "$APP_USER";
GRANT MODIFY ON KEYSPACE {KEYSPACE} TO "$APP_USER";
CREATE ROLE IF NOT EXISTS "$GRAFANA_USER" WITH LOGIN = true AND PASSWORD = '$GRAFANA_PASSWORD';
GRANT SELECT ON KEYSPACE {KEYSPACE} TO "$GRAFANA_USER";
EOF
as_admin -f "$work/roles.cql"
# A role that exists with an older password (its Secret changed) gets the current one, and the
# Job ends only once a login with it works: Cassandra 5 refuses a second password change within
# 5 s of the last one, and a node may keep accepting only the cached old password for a moment.
converge_password() {{
  creds "$1" "$2" "$3.cred"
  printf 'ALTER ROLE "%s" WITH PASSWORD = '"'"'%s'"'"';\n' "$1" "$2" > "$work/$3.cql"
  until probe "$3.cred"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "role $1 does not log in with its current password within {deadline_seconds} s" >&2
      exit 1
    fi
    as_admin -f "$work/$3.cql" || true
    sleep {retry_seconds}
  done
}}
deadline=$(( $(date +%s) + {deadline_seconds} ))
converge_password "$APP_USER" "$APP_PASSWORD" app
converge_password "$GRAFANA_USER" "$GRAFANA_PASSWORD" grafana
as_admin -e "DESCRIBE KEYSPACE {KEYSPACE}" | head -n 3
"""


def schema_configmap_manifest(
    namespace: pulumi.Input[str], cfg: CassandraConfig, cql: str
) -> dict[str, Any]:
    return manifests.config_map(
        SCHEMA_CONFIGMAP,
        namespace,
        recommended_labels(SCHEMA_JOB, "schema-init", CASSANDRA_VERSION),
        {
            SCHEMA_FILE: cql,
            "apply-schema.sh": derive(namespace, lambda n: schema_job_script(n, cfg)),
        },
    )


def schema_job_manifest(
    namespace: pulumi.Input[str], cfg: CassandraConfig, schema_hash: str, image: pulumi.Input[str]
) -> dict[str, Any]:
    labels = recommended_labels(SCHEMA_JOB, "schema-init", CASSANDRA_VERSION)
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
        image,
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
    namespace: pulumi.Input[str],
    cfg: CassandraConfig,
    admin_password: pulumi.Input[str],
    app_password: pulumi.Input[str],
    grafana_password: pulumi.Input[str],
) -> dict[str, Any]:
    return manifests.secret(
        CREDENTIALS_SECRET,
        namespace,
        node_labels(),
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
        cql = setup_cql(KEYSPACE)
        schema_hash = hashlib.sha256(cql.encode()).hexdigest()

        admin = _password(f"{name}-admin-password", child)
        app = _password(f"{name}-app-password", child)
        grafana = _password(f"{name}-grafana-password", child)
        secret = credentials_secret_manifest(ns, cfg, admin.result, app.result, grafana.result)
        credentials = k8s.core.v1.Secret(
            f"{name}-credentials",
            metadata=secret["metadata"],
            type=secret["type"],
            string_data=secret["stringData"],
            opts=child,
        )
        service = manifests.resource_from_manifest(
            k8s.core.v1.Service,
            f"{name}-headless",
            headless_service_manifest(ns),
            child,
            spec="spec",
        )
        peers = manifests.resource_from_manifest(
            k8s.core.v1.Service, f"{name}-peers", peers_service_manifest(ns), child, spec="spec"
        )
        config_map = config_map_manifest(ns, cfg)
        node_config = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap, f"{name}-config", config_map, child, data="data"
        )
        statefulset = manifests.resource_from_manifest(
            k8s.apps.v1.StatefulSet,
            f"{name}-nodes",
            statefulset_manifest(
                ns,
                cfg,
                args.storage_class,
                args.image,
                config_files_sha256=derive(config_map["data"], files_sha256),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[service, peers, node_config]),
            spec="spec",
        )
        schema_cm = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap,
            f"{name}-schema",
            schema_configmap_manifest(ns, cfg, cql),
            child,
            data="data",
        )
        self.schema_job = manifests.resource_from_manifest(
            k8s.batch.v1.Job,
            f"{name}-schema",
            schema_job_manifest(ns, cfg, schema_hash, args.image),
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
