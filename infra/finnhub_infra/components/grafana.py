"""GrafanaStack: Grafana with the Cassandra datasource and every dashboard provisioned from files.

Nothing is clicked together: the datasource (fixed uid `cassandra`, which the dashboards reference)
and each `*.json` of the dashboards folder come from ConfigMaps, read only, and Grafana keeps no
state worth a volume. Passwords reach the pod as Secret-backed env vars; the provisioning file
names them (`$CASSANDRA_PASSWORD`) and Grafana expands them at start.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from finnhub_contracts.versions import (
    CASSANDRA_DATASOURCE_PLUGIN,
    CASSANDRA_DATASOURCE_PLUGIN_VERSION,
)

from finnhub_infra.components import manifests
from finnhub_infra.components.cassandra import GRAFANA_PASSWORD_KEY, GRAFANA_USER_KEY
from finnhub_infra.components.conventions import (
    image_tag,
    object_meta,
    recommended_labels,
    secret_env,
)
from finnhub_infra.components.inputs import derive
from finnhub_infra.config import GrafanaConfig

NAME = "grafana"
PORT = 3000
ADMIN_SECRET = "grafana-admin"
DATASOURCE_UID = "cassandra"
PROVISIONING_CONFIGMAP = "grafana-provisioning"
DASHBOARDS_CONFIGMAP = "grafana-dashboards"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards"
MIN_REFRESH = "500ms"
# `id@version`, the form GF_PLUGINS_PREINSTALL_SYNC takes.
PLUGIN_PIN = f"{CASSANDRA_DATASOURCE_PLUGIN}@{CASSANDRA_DATASOURCE_PLUGIN_VERSION}"
# The grafana/grafana image's own user.
GRAFANA_UID = 472


@dataclass(frozen=True)
class GrafanaStackArgs:
    namespace: pulumi.Input[str]
    config: GrafanaConfig
    dashboards: dict[str, str]
    cassandra_hosts: pulumi.Input[str]
    cassandra_port: int
    cassandra_keyspace: str
    cassandra_credentials_secret: str
    admin_password: pulumi.Input[str] | None = None


def load_dashboards(folder: Path) -> dict[str, str]:
    """Every `*.json` in `folder`, by file name; each must be a dashboard object."""
    dashboards: dict[str, str] = {}
    for path in sorted(folder.glob("*.json")):
        text = path.read_text()
        if not isinstance(json.loads(text), dict):
            raise ValueError(f"{path} is not a Grafana dashboard (expected a JSON object)")
        dashboards[path.name] = text
    return dashboards


def datasource_provisioning(host: str, port: int, keyspace: str) -> str:
    """Grafana datasource provisioning (YAML is a superset of JSON, so JSON it is)."""
    document = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Cassandra",
                "type": CASSANDRA_DATASOURCE_PLUGIN,
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": f"{host}:{port}",
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "keyspace": keyspace,
                    "user": "$CASSANDRA_USERNAME",
                    "consistency": "ONE",
                },
                "secureJsonData": {"password": "$CASSANDRA_PASSWORD"},
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def dashboard_provider() -> str:
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "finnhub",
                "folder": "Finnhub",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "options": {"path": DASHBOARDS_PATH},
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def provisioning_configmap_manifest(
    namespace: pulumi.Input[str],
    cfg: GrafanaConfig,
    host: pulumi.Input[str],
    port: int,
    keyspace: str,
) -> dict[str, Any]:
    return manifests.config_map(
        PROVISIONING_CONFIGMAP,
        namespace,
        recommended_labels(NAME, "dashboard", image_tag(cfg.image)),
        {
            "datasources.yaml": derive(host, lambda h: datasource_provisioning(h, port, keyspace)),
            "dashboards.yaml": dashboard_provider(),
        },
    )


def dashboards_configmap_manifest(
    namespace: pulumi.Input[str], cfg: GrafanaConfig, dashboards: dict[str, str]
) -> dict[str, Any]:
    return manifests.config_map(
        DASHBOARDS_CONFIGMAP,
        namespace,
        recommended_labels(NAME, "dashboard", image_tag(cfg.image)),
        dict(dashboards),
    )


def content_hash(*parts: str) -> str:
    """Rolls the Deployment when provisioned files change (Grafana reads them at start)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def deployment_manifest(
    namespace: pulumi.Input[str],
    cfg: GrafanaConfig,
    credentials_secret: str,
    config_hash: pulumi.Input[str],
) -> dict[str, Any]:
    labels = recommended_labels(NAME, "dashboard", image_tag(cfg.image))
    env = [
        {"name": "GF_SECURITY_ADMIN_USER", "value": cfg.admin_user},
        secret_env("GF_SECURITY_ADMIN_PASSWORD", ADMIN_SECRET, "admin-password"),
        secret_env("CASSANDRA_USERNAME", credentials_secret, GRAFANA_USER_KEY),
        secret_env("CASSANDRA_PASSWORD", credentials_secret, GRAFANA_PASSWORD_KEY),
        {"name": "GF_DASHBOARDS_MIN_REFRESH_INTERVAL", "value": MIN_REFRESH},
        {"name": "GF_PLUGINS_PREINSTALL_SYNC", "value": PLUGIN_PIN},
        {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
        {"name": "GF_AUTH_ANONYMOUS_ENABLED", "value": "false"},
        {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
        {"name": "GF_ANALYTICS_CHECK_FOR_UPDATES", "value": "false"},
    ]
    container = manifests.container(
        NAME,
        cfg.image,
        cfg.resources.to_manifest(),
        read_only_root=True,
        env=env,
        ports={"http": PORT},
        readiness=manifests.http_probe("/api/health", PORT, initial_delay=10, period=10),
        liveness=manifests.http_probe("/api/health", PORT, initial_delay=60, period=20),
        volume_mounts=[
            {"name": "storage", "mountPath": "/var/lib/grafana"},
            {"name": "tmp", "mountPath": "/tmp"},
            {
                "name": "provisioning",
                "mountPath": "/etc/grafana/provisioning/datasources/datasources.yaml",
                "subPath": "datasources.yaml",
                "readOnly": True,
            },
            {
                "name": "provisioning",
                "mountPath": "/etc/grafana/provisioning/dashboards/dashboards.yaml",
                "subPath": "dashboards.yaml",
                "readOnly": True,
            },
            {"name": "dashboards", "mountPath": DASHBOARDS_PATH, "readOnly": True},
        ],
    )
    template = manifests.pod_template(
        labels,
        [container],
        uid=GRAFANA_UID,
        annotations={"finnhub/config-sha256": config_hash},
        volumes=[
            {"name": "storage", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "provisioning", "configMap": {"name": PROVISIONING_CONFIGMAP}},
            {"name": "dashboards", "configMap": {"name": DASHBOARDS_CONFIGMAP}},
        ],
    )
    return manifests.deployment(NAME, namespace, labels, replicas=1, template=template)


def service_manifest(namespace: pulumi.Input[str], cfg: GrafanaConfig) -> dict[str, Any]:
    return manifests.service(
        NAME,
        namespace,
        recommended_labels(NAME, "dashboard", image_tag(cfg.image)),
        NAME,
        {"http": PORT},
    )


class GrafanaStack(pulumi.ComponentResource):
    """Grafana, its admin Secret, provisioning ConfigMaps and Service."""

    service_name: str
    port: int
    admin_secret_name: str
    admin_password: pulumi.Output[str]

    def __init__(
        self, name: str, args: GrafanaStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:GrafanaStack", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = pulumi.Output.from_input(args.namespace)
        cfg = args.config

        if args.admin_password is None:
            password = pulumi.Output.secret(
                random.RandomPassword(
                    f"{name}-admin-password", length=24, special=False, opts=child
                ).result
            )
        else:
            password = pulumi.Output.secret(args.admin_password)
        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata=object_meta(
                ADMIN_SECRET, ns, recommended_labels(NAME, "dashboard", image_tag(cfg.image))
            ),
            type="Opaque",
            string_data={"admin-password": password},
            opts=child,
        )
        provisioning = provisioning_configmap_manifest(
            ns, cfg, args.cassandra_hosts, args.cassandra_port, args.cassandra_keyspace
        )
        provisioning_cm = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap, f"{name}-provisioning", provisioning, child, data="data"
        )
        dashboards_cm = manifests.resource_from_manifest(
            k8s.core.v1.ConfigMap,
            f"{name}-dashboards",
            dashboards_configmap_manifest(ns, cfg, args.dashboards),
            child,
            data="data",
        )
        config_hash = derive(
            provisioning["data"],
            lambda data: content_hash(*data.values(), *args.dashboards.values()),
        )
        manifests.resource_from_manifest(
            k8s.apps.v1.Deployment,
            f"{name}-server",
            deployment_manifest(ns, cfg, args.cassandra_credentials_secret, config_hash),
            pulumi.ResourceOptions(parent=self, depends_on=[admin, provisioning_cm, dashboards_cm]),
            spec="spec",
        )
        manifests.resource_from_manifest(
            k8s.core.v1.Service, f"{name}-service", service_manifest(ns, cfg), child, spec="spec"
        )

        self.service_name = NAME
        self.port = PORT
        self.admin_secret_name = ADMIN_SECRET
        self.admin_password = password
        self.register_outputs(
            {
                "service_name": NAME,
                "port": PORT,
                "admin_secret_name": ADMIN_SECRET,
                "admin_password": password,
            }
        )
