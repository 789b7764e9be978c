"""GrafanaStack alone under mocks: datasource and every dashboard provisioned from files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from finnhub_contracts.versions import (
    CASSANDRA_DATASOURCE_PLUGIN,
    CASSANDRA_DATASOURCE_PLUGIN_VERSION,
    GRAFANA_VERSION,
)
from finnhub_infra.components.grafana import (
    DATASOURCE_UID,
    GrafanaStack,
    GrafanaStackArgs,
    load_dashboards,
)
from finnhub_infra.config import GrafanaConfig
from infra_harness import REPO_ROOT, Rendered, run_mocked


def render(dashboards: dict[str, str], admin_password: str | None = None) -> Rendered:
    def body() -> object:
        return GrafanaStack(
            "grafana",
            GrafanaStackArgs(
                namespace="pipeline",
                config=GrafanaConfig(),
                dashboards=dashboards,
                cassandra_hosts="cassandra.pipeline.svc.cluster.local",
                cassandra_port=9042,
                cassandra_keyspace="market",
                cassandra_credentials_secret="cassandra-credentials",
                admin_password=admin_password,
            ),
        )

    return run_mocked(body)


@pytest.fixture
def dashboards_dir(tmp_path: Path) -> Path:
    (tmp_path / "a.json").write_text(json.dumps({"title": "A", "panels": []}))
    (tmp_path / "b.json").write_text(json.dumps({"title": "B", "panels": []}))
    (tmp_path / "notes.md").write_text("not a dashboard")
    return tmp_path


def test_every_json_file_in_the_folder_is_provisioned(dashboards_dir: Path) -> None:
    dashboards = load_dashboards(dashboards_dir)
    cm = render(dashboards).manifest("ConfigMap", "grafana-dashboards")
    assert sorted(cm["data"]) == ["a.json", "b.json"]
    assert json.loads(cm["data"]["a.json"])["title"] == "A"


def test_a_json_file_that_is_not_a_dashboard_object_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"list\.json"):
        load_dashboards(tmp_path)


def datasource_refs(node: object) -> list[object]:
    """Every `datasource` value anywhere in a dashboard document."""
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [ref for value in node.values() for ref in datasource_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in datasource_refs(value)]
    return []


def test_committed_dashboards_reference_only_the_datasource_grafana_provisions() -> None:
    folder = REPO_ROOT / GrafanaConfig().dashboards_dir
    dashboards = load_dashboards(folder)
    assert dashboards, f"no dashboard JSON committed under {folder}"
    provisioned = {"type": CASSANDRA_DATASOURCE_PLUGIN, "uid": DATASOURCE_UID}
    for name, text in dashboards.items():
        refs = datasource_refs(json.loads(text))
        assert refs, name
        assert all(ref == provisioned for ref in refs), name


def test_a_dashboard_naming_another_datasource_type_is_found() -> None:
    other = {"type": "another-cassandra-datasource", "uid": DATASOURCE_UID}
    document = {"panels": [{"targets": [{"datasource": other}]}]}
    assert datasource_refs(document) == [other]


def test_datasource_is_the_cassandra_plugin_with_a_fixed_uid_and_env_password(
    dashboards_dir: Path,
) -> None:
    cm = render(load_dashboards(dashboards_dir)).manifest("ConfigMap", "grafana-provisioning")
    (source,) = yaml.safe_load(cm["data"]["datasources.yaml"])["datasources"]
    assert source["type"] == CASSANDRA_DATASOURCE_PLUGIN
    assert source["uid"] == "cassandra"
    assert source["url"] == "cassandra.pipeline.svc.cluster.local:9042"
    assert source["jsonData"]["keyspace"] == "market"
    assert source["secureJsonData"]["password"] == "$CASSANDRA_PASSWORD"
    assert source["editable"] is False


def test_dashboards_are_read_only_files(dashboards_dir: Path) -> None:
    cm = render(load_dashboards(dashboards_dir)).manifest("ConfigMap", "grafana-provisioning")
    (provider,) = yaml.safe_load(cm["data"]["dashboards.yaml"])["providers"]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False


def test_grafana_installs_the_plugin_and_allows_500ms_refresh(dashboards_dir: Path) -> None:
    deployment = render(load_dashboards(dashboards_dir)).manifest("Deployment", "grafana")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GF_DASHBOARDS_MIN_REFRESH_INTERVAL"]["value"] == "500ms"
    assert env["GF_PLUGINS_PREINSTALL_SYNC"]["value"].startswith(CASSANDRA_DATASOURCE_PLUGIN + "@")
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "grafana-admin"


def test_the_plugin_is_preinstalled_at_the_contracts_pin_not_by_the_deprecated_variable(
    dashboards_dir: Path,
) -> None:
    deployment = render(load_dashboards(dashboards_dir)).manifest("Deployment", "grafana")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    # GF_INSTALL_PLUGINS is deprecated since 12.1 and installs after provisioning has started.
    assert "GF_INSTALL_PLUGINS" not in env
    plugin, _, version = env["GF_PLUGINS_PREINSTALL_SYNC"]["value"].partition("@")
    assert (plugin, version) == (CASSANDRA_DATASOURCE_PLUGIN, CASSANDRA_DATASOURCE_PLUGIN_VERSION)


def test_the_default_image_is_the_contracts_grafana_release() -> None:
    repository, _, tag = GrafanaConfig().image.partition(":")
    assert (repository, tag) == ("grafana/grafana", GRAFANA_VERSION)


def test_the_pinned_grafana_is_a_release_the_pinned_plugin_supports_with_preinstall_sync() -> None:
    major, minor, _patch = (int(part) for part in GRAFANA_VERSION.split("."))
    # preinstall_sync arrived in 12.1; the datasource's 3.x line supports Grafana up to 12.x.
    assert (12, 1) <= (major, minor) < (13, 0)
    assert re.fullmatch(r"3\.\d+\.\d+", CASSANDRA_DATASOURCE_PLUGIN_VERSION)


def test_a_configured_admin_password_is_used_instead_of_a_generated_one() -> None:
    rendered = render({}, admin_password="chosen-password")
    secret = rendered.manifest("Secret", "grafana-admin")
    assert secret["stringData"]["admin-password"] == "chosen-password"
    assert not rendered.of_type("random:index/randomPassword:RandomPassword")


def test_changed_dashboards_roll_the_deployment() -> None:
    def config_hash(rendered: Rendered) -> str:
        template = rendered.manifest("Deployment", "grafana")["spec"]["template"]
        return template["metadata"]["annotations"]["finnhub/config-sha256"]

    one = config_hash(render({"a.json": '{"title": "A"}'}))
    other = config_hash(render({"a.json": '{"title": "B"}'}))
    assert one != other
