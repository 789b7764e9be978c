"""`make preview`: the real Pulumi engine previews a stack of this project offline, no cluster.

What it sets up, all under `.state/pulumi/` (git-ignored) so that no committed file changes:

- a staged copy of the project (`project/`): `Pulumi.yaml`, a link to `infra/`, and the stack's
  config file with its secrets re-encrypted under a throwaway passphrase;
- a local file backend (`backend/`, `pulumi login file://...`) and a project-local `PULUMI_HOME`;
- a kubeconfig whose contexts point at 127.0.0.1:1, where nothing listens: the Kubernetes provider
  sees an unreachable cluster, which it handles in a preview by planning every object as a create;
- the Terraform bootstrap outputs: the real `terraform-bootstrap` state when it exists, otherwise a
  stand-in state carrying the outputs that `terraform-bootstrap/` would produce with its defaults.

The Pulumi CLI is yours when one is on PATH; without one, it and every plugin come from
`tools/pulumi/install.sh` (built from Go modules once, then cached). PULUMI_PREVIEW_CLI makes the
choice explicit: `auto` (the default), `path` (yours, or fail) or `built` (the project's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "tools" / "pulumi" / "install.sh"
# Where install.sh puts the binaries; PULUMI_TOOLCHAIN_BIN moves both.
BIN_DIR = Path(os.environ.get("PULUMI_TOOLCHAIN_BIN", ROOT / ".cache" / "pulumi" / "bin"))
STATE_DIR = ROOT / ".state" / "pulumi"
# The uv `make setup` installs when the machine has none (Makefile: PROJECT_UV).
PROJECT_UV = ROOT / ".cache" / "bin" / "uv"
CLI_CHOICE_VARIABLE = "PULUMI_PREVIEW_CLI"

# Throwaway: it only guards the staged preview copy under .state/, never a real stack's secrets.
LOCAL_PASSPHRASE = "finnhub-local-preview-only"
# Stands in for FINNHUB_TOKEN when it is unset, so `require_secret("finnhubToken")` is satisfied.
PLACEHOLDER_TOKEN = "preview-placeholder-not-a-finnhub-token"
# Nothing listens on port 1 of loopback: connections are refused at once, nothing leaves the host.
UNREACHABLE_SERVER = "https://127.0.0.1:1"
UNREACHABLE_PROXY = "http://127.0.0.1:1"

# What `terraform-bootstrap/outputs.tf` yields with the defaults of `variables.tf` (and, for eks,
# `eks.tfvars`); the eks account id is a placeholder, as no AWS account is reachable from here.
# Helm releases are planned only after their chart is fetched from its chart repository, which is
# out of reach here: the engine leaves them, and whatever depends on them, out of this preview.
OFFLINE_EXCLUDES = ("**kubernetes:helm.sh/v3:Release::*",)
OFFLINE_NOTE = (
    "note: offline preview: Helm releases (their charts come from chart repositories, unreachable "
    "here) and the resources that depend on them are excluded; see tools/pulumi/README.md"
)

BOOTSTRAP_OUTPUTS = {
    "minikube": {"namespace": "finnhub", "registry_url": "localhost:5000"},
    "eks": {
        "namespace": "finnhub",
        "registry_url": "000000000000.dkr.ecr.eu-central-1.amazonaws.com",
    },
}


@dataclass(frozen=True)
class PreviewPaths:
    project: Path
    backend: Path
    home: Path
    kubeconfig: Path
    bootstrap_state: Path
    # Holds only a link to uv, so putting it on the engine's PATH shadows nothing else.
    uv_dir: Path

    @classmethod
    def under(cls, state_dir: Path, stack: str) -> PreviewPaths:
        return cls(
            project=state_dir / "project",
            backend=state_dir / "backend",
            home=state_dir / "home",
            kubeconfig=state_dir / "kubeconfig",
            bootstrap_state=state_dir / "bootstrap" / f"{stack}.tfstate",
            uv_dir=state_dir / "uv",
        )


class CliMode(Enum):
    AUTO = "auto"
    PATH = "path"
    BUILT = "built"


@dataclass(frozen=True)
class CliChoice:
    """The Pulumi CLI a preview runs, whether it is the one built here, and why it was chosen."""

    executable: Path
    built_here: bool
    reason: str


def cli_mode(value: str | None) -> CliMode:
    try:
        return CliMode((value or CliMode.AUTO.value).strip().lower())
    except ValueError:
        choices = ", ".join(mode.value for mode in CliMode)
        raise SystemExit(f"{CLI_CHOICE_VARIABLE} must be one of {choices}, not {value!r}") from None


def choose_cli(mode: CliMode, on_path: str | None, built: Path) -> CliChoice:
    """The user's `pulumi` from PATH when there is one (unless `built` is forced), else ours.

    A `pulumi` on PATH that is our own built binary (.cache/pulumi/bin put on PATH by hand) counts
    as ours, so the message never calls it the user's.
    """
    theirs = Path(on_path) if on_path else None
    if theirs is not None and theirs.resolve() == built.resolve():
        theirs = None
    built_note = f"the one built here from Go modules, {built} (tools/pulumi/README.md)"
    if mode is CliMode.BUILT:
        reason = f"preview: {CLI_CHOICE_VARIABLE}=built: using {built_note}"
        return CliChoice(built, built_here=True, reason=reason)
    if theirs is None:
        if mode is CliMode.PATH:
            raise SystemExit(
                f"{CLI_CHOICE_VARIABLE}=path, but no pulumi is on PATH; "
                f"unset it to use {built_note}"
            )
        reason = f"preview: no Pulumi CLI on PATH: using {built_note}"
        return CliChoice(built, built_here=True, reason=reason)
    reason = (
        f"preview: using your Pulumi CLI at {theirs}, with the plugins built here "
        f"({CLI_CHOICE_VARIABLE}=built runs the CLI built here instead)"
    )
    return CliChoice(theirs, built_here=False, reason=reason)


def uv_executable(ran_with: str | None, on_path: str | None, project_uv: Path) -> Path:
    """The uv the engine's uv toolchain must run: the one running this script, else any found.

    Pulumi.yaml's `toolchain: uv` makes the language host run plain `uv` from PATH; a machine whose
    only uv is the project's copy in .cache has none there.
    """
    for candidate in (ran_with, on_path, str(project_uv)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit(
        "no uv found (not on PATH, not in .cache/bin): run `make setup`, which installs one; "
        "the Pulumi program's uv toolchain (Pulumi.yaml) needs it"
    )


def staged_stack_config(
    committed: dict[str, Any], previous: dict[str, Any] | None, project: str, bootstrap_state: str
) -> dict[str, Any]:
    """The committed stack config, minus what the throwaway passphrase cannot decrypt.

    Secure values and the salt of the real secrets provider are dropped (the preview sets its own);
    the salt of an earlier staged copy is kept, as the backend's stack was created with it. The
    Terraform state is read from a local file, the only source reachable offline.
    """
    staged = {k: v for k, v in committed.items() if k not in ("encryptionsalt", "secretsprovider")}
    config = {
        key: value
        for key, value in (committed.get("config") or {}).items()
        if not (isinstance(value, dict) and "secure" in value)
    }
    config[f"{project}:terraformState"] = {"backend": "local", "path": bootstrap_state}
    staged["config"] = config
    if previous and "encryptionsalt" in previous:
        staged["encryptionsalt"] = previous["encryptionsalt"]
        # Secrets set on the staged copy (under that salt) stay: a deploy's token is the same
        # on every run, so a second `pulumi up` changes nothing.
        for key, value in (previous.get("config") or {}).items():
            if isinstance(value, dict) and "secure" in value:
                config.setdefault(key, value)
    return staged


def kube_contexts(stack_config: dict[str, Any], project: str) -> list[str]:
    cluster = (stack_config.get("config") or {}).get(f"{project}:cluster") or {}
    return sorted({cluster.get("kubeContext", "minikube"), "minikube"})


def unreachable_kubeconfig(contexts: list[str]) -> dict[str, Any]:
    """A kubeconfig that names the stack's contexts, all on a server that refuses connections."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "unreachable", "cluster": {"server": UNREACHABLE_SERVER}},
        ],
        "users": [{"name": "nobody", "user": {"token": "unused"}}],
        "contexts": [
            {"name": name, "context": {"cluster": "unreachable", "user": "nobody"}}
            for name in contexts
        ],
        "current-context": contexts[0],
    }


def terraform_state(outputs: dict[str, str]) -> dict[str, Any]:
    """A minimal Terraform state file (format 4) with string outputs."""
    return {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 1,
        "lineage": "finnhub-preview",
        "outputs": {name: {"value": value, "type": "string"} for name, value in outputs.items()},
        "resources": [],
    }


def read_yaml(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text()) or {}


def stage_project(stack: str, paths: PreviewPaths) -> None:
    """Copy the project's Pulumi files under .state so the engine may write to them freely."""
    project_file = read_yaml(ROOT / "Pulumi.yaml")
    if project_file is None:
        raise SystemExit(f"no Pulumi.yaml in {ROOT}: the Pulumi program is not there yet")
    committed = read_yaml(ROOT / f"Pulumi.{stack}.yaml")
    if committed is None:
        raise SystemExit(f"no Pulumi.{stack}.yaml in {ROOT}: unknown stack {stack!r}")
    project = project_file["name"]

    paths.project.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "Pulumi.yaml", paths.project / "Pulumi.yaml")
    main = str(project_file.get("main", ".")).rstrip("/")
    if main not in ("", "."):
        link = paths.project / main
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(ROOT / main, target_is_directory=True)

    real_state = ROOT / "terraform-bootstrap" / "terraform.tfstate"
    tf_config = (committed.get("config") or {}).get(f"{project}:terraformState") or {}
    if tf_config.get("backend", "local") == "local" and real_state.exists():
        state_path = real_state
    else:
        state_path = paths.bootstrap_state
        state_path.parent.mkdir(parents=True, exist_ok=True)
        outputs = BOOTSTRAP_OUTPUTS.get(stack, BOOTSTRAP_OUTPUTS["minikube"])
        state_path.write_text(json.dumps(terraform_state(outputs), indent=2) + "\n")

    stack_file = paths.project / f"Pulumi.{stack}.yaml"
    staged = staged_stack_config(
        committed, read_yaml(stack_file), project, os.path.relpath(state_path, ROOT)
    )
    stack_file.write_text(yaml.safe_dump(staged, sort_keys=False))

    kubeconfig = unreachable_kubeconfig(kube_contexts(committed, project))
    paths.kubeconfig.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))


def install_command(cli: CliChoice) -> list[str]:
    """install.sh, leaving out the CLI when the user's runs: the plugins still come from here."""
    return ["bash", str(INSTALL_SCRIPT), *([] if cli.built_here else ["--without-cli"])]


def link_uv(uv: Path, uv_dir: Path) -> None:
    uv_dir.mkdir(parents=True, exist_ok=True)
    link = uv_dir / "uv"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(uv.resolve())


def preview_environment(paths: PreviewPaths) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            # Plugins from .cache/pulumi/bin; uv for the language host's uv toolchain.
            "PATH": os.pathsep.join([str(BIN_DIR), str(paths.uv_dir), env.get("PATH", "")]),
            "PULUMI_HOME": str(paths.home),
            "KUBECONFIG": str(paths.kubeconfig),
            # The engine must neither look for a newer CLI nor download a plugin: everything it
            # runs comes from .cache/pulumi/bin on PATH.
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "false",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            # The language host's uv toolchain syncs before running; the lock is the contract.
            "UV_FROZEN": "1",
        }
    )
    # Anything that would reach beyond this machine (a Helm chart repository, say) goes to a proxy
    # on loopback that refuses at once; the engine's own gRPC traffic stays direct.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env[name] = UNREACHABLE_PROXY
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = "127.0.0.1,localhost,::1"
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", LOCAL_PASSPHRASE)
    env.pop("PULUMI_ACCESS_TOKEN", None)
    return env


def pulumi(
    cli: CliChoice, args: list[str], paths: PreviewPaths, env: dict[str, str], **kwargs: Any
) -> int:
    command = [str(cli.executable), "--non-interactive", *args]
    return subprocess.run(command, cwd=paths.project, env=env, check=False, **kwargs).returncode


def must(returncode: int, what: str) -> None:
    if returncode != 0:
        raise SystemExit(f"pulumi {what} failed (exit {returncode}); see its output above")


def prepare_image_contexts(stack: str) -> None:
    """A stack that builds its images (Pulumi's docker provider) reads each image's context in
    the preview: make them here, where uv may reach the package registry, before the engine
    runs behind the refusing proxy (the program then finds them current: a check, no install)."""
    committed = read_yaml(ROOT / f"Pulumi.{stack}.yaml") or {}
    images = (committed.get("config") or {}).get("finnhub-pipeline:images") or {}
    if images.get("source", "build") != "build":
        return
    from finnhub_images.catalog import IMAGES
    from finnhub_images.contexts import ContextBuilder, ContextError
    from local_stack.artifacts import JarResolver
    from local_stack.errors import LocalStackError
    from local_stack.settings import LocalStackSettings

    builder = ContextBuilder(
        repo_root=ROOT,
        contexts_dir=ROOT / ".cache" / "images" / "contexts",
        jar_resolver=JarResolver(LocalStackSettings(project_root=ROOT)),
        docker_platform=images.get("platform", "linux/amd64"),
    )
    for image in IMAGES:
        try:
            builder.prepare(image)
        except (ContextError, LocalStackError) as error:
            raise SystemExit(f"preparing the {image.name} image's build context: {error}") from None


def run_preview(cli: CliChoice, stack: str, extra_args: list[str]) -> int:
    paths = PreviewPaths.under(STATE_DIR, stack)
    prepare_image_contexts(stack)
    stage_project(stack, paths)
    paths.backend.mkdir(parents=True, exist_ok=True)
    paths.home.mkdir(parents=True, exist_ok=True)
    link_uv(uv_executable(os.environ.get("UV"), shutil.which("uv"), PROJECT_UV), paths.uv_dir)
    env = preview_environment(paths)

    must(
        pulumi(cli, ["login", f"file://{paths.backend}"], paths, env, stdout=subprocess.DEVNULL),
        "login",
    )
    must(
        pulumi(
            cli,
            ["stack", "select", "--create", "--secrets-provider", "passphrase", stack],
            paths,
            env,
        ),
        "stack select",
    )
    # The secret travels on stdin, never in argv.
    token = os.environ.get("FINNHUB_TOKEN") or PLACEHOLDER_TOKEN
    must(
        pulumi(
            cli,
            ["config", "set", "--secret", "finnhubToken"],
            paths,
            env,
            input=token,
            text=True,
            stdout=subprocess.DEVNULL,
        ),
        "config set",
    )
    excludes = [arg for pattern in OFFLINE_EXCLUDES for arg in ("--exclude", pattern)]
    print(OFFLINE_NOTE, file=sys.stderr, flush=True)
    return pulumi(
        cli,
        ["preview", "--diff", "--stack", stack, *excludes, "--exclude-dependents", *extra_args],
        paths,
        env,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="minikube", help="stack to preview (minikube, eks)")
    parser.add_argument(
        "--skip-install", action="store_true", help="do not run tools/pulumi/install.sh first"
    )
    args, extra = parser.parse_known_args(argv)
    cli = choose_cli(
        cli_mode(os.environ.get(CLI_CHOICE_VARIABLE)), shutil.which("pulumi"), BIN_DIR / "pulumi"
    )
    print(cli.reason, file=sys.stderr, flush=True)
    if not args.skip_install and subprocess.run(install_command(cli), check=False).returncode != 0:
        raise SystemExit(f"building the Pulumi toolchain failed; see {INSTALL_SCRIPT} above")
    return run_preview(cli, args.stack, extra)


if __name__ == "__main__":
    sys.exit(main())
