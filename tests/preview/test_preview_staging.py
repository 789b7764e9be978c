"""What `make preview` stages under .state before the engine runs: no toolchain needed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "pulumi_preview", REPO_ROOT / "tools" / "pulumi" / "preview.py"
)
assert _spec is not None and _spec.loader is not None
preview = importlib.util.module_from_spec(_spec)
# dataclasses resolve their module through sys.modules.
sys.modules[_spec.name] = preview
_spec.loader.exec_module(preview)

PROJECT = "finnhub-pipeline"
COMMITTED = {
    "encryptionsalt": "v1:real-salt",
    "config": {
        f"{PROJECT}:target": "eks",
        f"{PROJECT}:finnhubToken": {"secure": "v1:ciphertext-of-the-real-token"},
        f"{PROJECT}:cluster": {"kubeContext": "finnhub-eks"},
        f"{PROJECT}:terraformState": {"backend": "s3", "bucket": "b", "key": "k", "region": "r"},
    },
}


def stage(previous: dict | None = None) -> dict:
    return preview.staged_stack_config(COMMITTED, previous, PROJECT, ".state/x.tfstate")


def test_staged_config_drops_values_the_throwaway_passphrase_cannot_decrypt() -> None:
    staged = stage()
    assert "encryptionsalt" not in staged
    assert f"{PROJECT}:finnhubToken" not in staged["config"]


def test_staged_config_keeps_the_salt_the_backend_stack_was_created_with() -> None:
    assert stage({"encryptionsalt": "v1:staged-salt"})["encryptionsalt"] == "v1:staged-salt"


def test_staged_config_reads_the_bootstrap_from_a_local_state_file() -> None:
    assert stage()["config"][f"{PROJECT}:terraformState"] == {
        "backend": "local",
        "path": ".state/x.tfstate",
    }


def test_staged_config_keeps_every_plain_setting() -> None:
    config = stage()["config"]
    assert config[f"{PROJECT}:target"] == "eks"
    assert config[f"{PROJECT}:cluster"] == {"kubeContext": "finnhub-eks"}


def test_kubeconfig_names_the_stacks_context_on_a_loopback_server() -> None:
    kubeconfig = preview.unreachable_kubeconfig(preview.kube_contexts(COMMITTED, PROJECT))
    assert {c["name"] for c in kubeconfig["contexts"]} >= {"finnhub-eks"}
    servers = {urlparse(c["cluster"]["server"]).hostname for c in kubeconfig["clusters"]}
    assert servers == {"127.0.0.1"}


def test_stand_in_terraform_state_carries_the_bootstrap_outputs() -> None:
    state = preview.terraform_state({"namespace": "finnhub", "registry_url": "localhost:5000"})
    assert state["outputs"]["namespace"]["value"] == "finnhub"
    assert state["outputs"]["registry_url"]["value"] == "localhost:5000"


def test_preview_environment_sends_other_http_traffic_to_a_refusing_loopback_proxy() -> None:
    env = preview.preview_environment(preview.PreviewPaths.under(Path("/tmp/x"), "minikube"))
    assert urlparse(env["HTTPS_PROXY"]).hostname == "127.0.0.1"
    assert "127.0.0.1" in env["NO_PROXY"].split(",")
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
