"""`make deploy-local`: the whole pipeline deployed by the Pulumi program onto `local-cluster`.

1. `local-cluster up` (builds what it lacks, starts the cluster, waits for Ready);
2. the namespace, which terraform-bootstrap makes elsewhere (same name and labels);
3. `finnhub-images build`: every image built on the cluster's dockerd without network, pushed to
   its registry, digests written to the references file the `local` stack deploys;
4. `pulumi up --stack local` with the real engine and providers, a local file backend and a
   throwaway passphrase, printing Pulumi's own progress.

Like `make preview`, it works on a staged copy of the Pulumi files under `.state/pulumi/deploy/`
(the committed `Pulumi.local.yaml` never changes; the stack's salt and the throwaway Finnhub
token live in the staged copy). `preview` and `destroy` run those on the same staged stack,
after neither the cluster step nor the image build; any further arguments go to Pulumi
(`deploy_local.py preview --expect-no-changes`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import preview
from local_cluster.images import PYTHON_311, PYTHON_JRE, local_base_reference
from local_cluster.layout import Layout
from local_cluster.settings import LocalClusterSettings

STACK = "local"
STATE_DIR = preview.ROOT / ".state" / "pulumi" / "deploy"
REFERENCES_NAME = "image-references.json"
# The namespace and its labels as terraform-bootstrap/main.tf makes them (baseline enforced).
NAMESPACE_LABELS = {
    "app.kubernetes.io/part-of": "finnhub-pipeline",
    "app.kubernetes.io/managed-by": "local-cluster",
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
}
# A throwaway: it guards only the staged copy of the local stack on this machine.
DEPLOY_PASSPHRASE = "finnhub-local-deploy-only"


def namespace_manifest(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": NAMESPACE_LABELS},
    }


def stack_bootstrap(stack_file: Path) -> dict[str, str]:
    config = (preview.read_yaml(stack_file) or {}).get("config") or {}
    given = config.get("finnhub-pipeline:bootstrap") or {}
    if not given.get("namespace") or not given.get("registryUrl"):
        raise SystemExit(f"{stack_file} has no bootstrap.namespace/registryUrl")
    return given


def follow_the_cluster(stack_file: Path, registry: str, references: Path) -> None:
    """The staged stack names the registry of the cluster actually used (LOCAL_CLUSTER_* may
    move its port: the tests run a cluster of their own beside yours) and this deploy's own
    references file, so two deploys on one machine never read each other's digests."""
    staged = preview.read_yaml(stack_file) or {}
    config = staged.setdefault("config", {})
    bootstrap = dict(config.get("finnhub-pipeline:bootstrap") or {})
    bootstrap["registryUrl"] = registry
    config["finnhub-pipeline:bootstrap"] = bootstrap
    images = dict(config.get("finnhub-pipeline:images") or {})
    images["referencesFile"] = str(references)
    config["finnhub-pipeline:images"] = images
    stack_file.write_text(preview.yaml.safe_dump(staged, sort_keys=False))


def step(what: str) -> float:
    print(f"deploy-local: {what}", file=sys.stderr, flush=True)
    return time.monotonic()


def run(command: list[str], what: str, **kwargs: object) -> None:
    result = subprocess.run(command, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise SystemExit(f"deploy-local: {what} failed (exit {result.returncode}); see above")


# The project's policy pack judges every real plan, as it does `make preview`'s.
POLICY_PACK = ["--policy-pack", str(preview.ROOT / "policy")]
VERBS = {
    "up": ["up", "--yes", "--diff", *POLICY_PACK],
    "preview": ["preview", "--diff", *POLICY_PACK],
    "destroy": ["destroy", "--yes"],
}


def deploy(action: str, state_dir: Path, build_images: bool, extra: list[str]) -> int:
    settings = LocalClusterSettings()
    references = state_dir / REFERENCES_NAME
    layout = Layout(settings.resolved_state_dir)
    kubeconfig = layout.kubeconfig("admin")
    kubectl = str(settings.bin_dir / "kubectl")
    given = stack_bootstrap(preview.ROOT / f"Pulumi.{STACK}.yaml")
    timings: dict[str, float] = {}

    if action == "up":
        started = step("local-cluster up")
        run([sys.executable, "-m", "local_cluster", "up"], "local-cluster up")
        timings["cluster"] = time.monotonic() - started

        run(
            [kubectl, "--kubeconfig", str(kubeconfig), "apply", "-f", "-"],
            "creating the namespace",
            input=json.dumps(namespace_manifest(given["namespace"])),
            text=True,
        )

    if action == "up" and build_images:
        started = step("building and pushing the images (finnhub-images build)")
        run(
            [
                sys.executable,
                "-m",
                "finnhub_images.cli",
                "build",
                "--registry",
                settings.registry_address,
                "--base-image",
                f"python={local_base_reference(settings.registry_address, PYTHON_311)}",
                "--base-image",
                f"jvm={local_base_reference(settings.registry_address, PYTHON_JRE)}",
                "--docker-host",
                f"unix://{layout.docker_socket}",
                "--references",
                str(references),
            ],
            "building the images",
        )
        timings["images"] = time.monotonic() - started

    cli = preview.choose_cli(
        preview.cli_mode(os.environ.get(preview.CLI_CHOICE_VARIABLE)),
        preview.shutil.which("pulumi"),
        preview.BIN_DIR / "pulumi",
    )
    print(cli.reason.replace("preview:", "deploy-local:"), file=sys.stderr, flush=True)
    run(preview.install_command(cli), "building the Pulumi toolchain")

    paths = preview.PreviewPaths.under(state_dir, STACK)
    preview.stage_project(STACK, paths)
    follow_the_cluster(
        paths.project / f"Pulumi.{STACK}.yaml", settings.registry_address, references
    )
    # The real cluster, not the preview's unreachable one.
    paths.kubeconfig.write_text(kubeconfig.read_text())
    paths.backend.mkdir(parents=True, exist_ok=True)
    paths.home.mkdir(parents=True, exist_ok=True)
    preview.link_uv(
        preview.uv_executable(os.environ.get("UV"), preview.shutil.which("uv"), preview.PROJECT_UV),
        paths.uv_dir,
    )
    env = preview.preview_environment(paths)
    env["PULUMI_CONFIG_PASSPHRASE"] = os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEPLOY_PASSPHRASE)
    # The API server is on the cluster's bridge address, not loopback: reach it directly.
    env["NO_PROXY"] = env["no_proxy"] = f"127.0.0.1,localhost,::1,{settings.bridge_address}"

    preview.must(
        preview.pulumi(
            cli, ["login", f"file://{paths.backend}"], paths, env, stdout=subprocess.DEVNULL
        ),
        "login",
    )
    preview.must(
        preview.pulumi(
            cli,
            ["stack", "select", "--create", "--secrets-provider", "passphrase", STACK],
            paths,
            env,
        ),
        "stack select",
    )
    staged = preview.read_yaml(paths.project / f"Pulumi.{STACK}.yaml") or {}
    if "finnhub-pipeline:finnhubToken" not in (staged.get("config") or {}):
        # The in-cluster fake feed takes any token; a random one keeps the secret path real.
        # On stdin, never in argv.
        preview.must(
            preview.pulumi(
                cli,
                ["config", "set", "--secret", "finnhubToken"],
                paths,
                env,
                input=os.environ.get("FINNHUB_TOKEN") or secrets.token_urlsafe(24),
                text=True,
                stdout=subprocess.DEVNULL,
            ),
            "config set",
        )
    started = step(f"pulumi {action}")
    code = preview.pulumi(cli, [*VERBS[action], "--stack", STACK, *extra], paths, env)
    timings["pulumi"] = time.monotonic() - started
    summary = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"deploy-local: {action} exit {code} ({summary})", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=sorted(VERBS), default="up")
    parser.add_argument(
        "--skip-images",
        action="store_true",
        help="deploy the digests already in the references file instead of building",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=STATE_DIR,
        help="the stack's backend, staged files and image references (default: %(default)s)",
    )
    args, extra = parser.parse_known_args(argv)
    return deploy(args.action, args.state_dir.resolve(), not args.skip_images, extra)


if __name__ == "__main__":
    sys.exit(main())
