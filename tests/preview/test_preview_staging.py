"""What `make preview` stages under .state before the engine runs: no toolchain needed."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

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
BUILT = Path("/nowhere/.cache/pulumi/bin/pulumi")
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


def test_preview_environment_gives_the_engine_uv_and_the_plugins_on_path() -> None:
    paths = preview.PreviewPaths.under(Path("/tmp/x"), "minikube")
    path = preview.preview_environment(paths)["PATH"].split(os.pathsep)
    assert path[:2] == [str(preview.BIN_DIR), str(paths.uv_dir)]


def test_the_uv_running_the_preview_is_the_one_the_engine_gets(tmp_path: Path) -> None:
    ran_with, on_path, project = (tmp_path / name for name in ("ran-with", "on-path", "project"))
    for uv in (ran_with, on_path, project):
        uv.touch()
    assert preview.uv_executable(str(ran_with), str(on_path), project) == ran_with
    assert preview.uv_executable(None, str(on_path), project) == on_path
    assert preview.uv_executable(None, None, project) == project


def test_no_uv_anywhere_is_a_message_that_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="make setup"):
        preview.uv_executable(None, None, tmp_path / "missing")


def test_the_users_pulumi_on_path_is_used_by_default() -> None:
    choice = preview.choose_cli(preview.CliMode.AUTO, "/opt/pulumi/bin/pulumi", BUILT)
    assert choice.executable == Path("/opt/pulumi/bin/pulumi")
    assert not choice.built_here
    assert "your Pulumi CLI" in choice.reason


def test_without_a_pulumi_on_path_the_built_one_runs_and_says_so() -> None:
    choice = preview.choose_cli(preview.CliMode.AUTO, None, BUILT)
    assert choice.executable == BUILT
    assert choice.built_here
    assert "no Pulumi CLI on PATH" in choice.reason
    assert "built here from Go modules" in choice.reason


def test_built_forces_the_projects_cli_over_the_users() -> None:
    choice = preview.choose_cli(preview.CliMode.BUILT, "/opt/pulumi/bin/pulumi", BUILT)
    assert choice.executable == BUILT
    assert "PULUMI_PREVIEW_CLI=built" in choice.reason


def test_the_built_cli_put_on_path_by_hand_is_not_called_the_users(tmp_path: Path) -> None:
    built = tmp_path / "pulumi"
    built.touch()
    (tmp_path / "link").symlink_to(built)
    choice = preview.choose_cli(preview.CliMode.AUTO, str(tmp_path / "link"), built)
    assert choice.built_here
    assert "your Pulumi CLI" not in choice.reason


def test_path_without_a_pulumi_on_path_is_refused_naming_the_variable() -> None:
    with pytest.raises(SystemExit, match="PULUMI_PREVIEW_CLI=path"):
        preview.choose_cli(preview.CliMode.PATH, None, BUILT)


def test_an_unknown_cli_choice_is_refused_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(SystemExit, match=r"PULUMI_PREVIEW_CLI must be one of auto, path, built"):
        preview.cli_mode("newest")
    assert preview.cli_mode(None) is preview.CliMode.AUTO
    assert preview.cli_mode(" Built ") is preview.CliMode.BUILT


def test_with_the_users_cli_only_the_plugins_are_built() -> None:
    theirs = preview.choose_cli(preview.CliMode.AUTO, "/opt/pulumi/bin/pulumi", BUILT)
    ours = preview.choose_cli(preview.CliMode.BUILT, "/opt/pulumi/bin/pulumi", BUILT)
    assert preview.install_command(theirs)[-1] == "--without-cli"
    assert "--without-cli" not in preview.install_command(ours)
