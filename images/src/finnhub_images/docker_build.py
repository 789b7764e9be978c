"""Build, push and pin one image with the docker CLI, on a daemon that may have no network.

The legacy builder (`DOCKER_BUILDKIT=0`) and `--network none`: the local cluster's dockerd has no
BuildKit frontend image to pull and no route anywhere, and a context from `contexts.py` needs
neither. What is deployed is the registry's digest of the pushed image, never a tag.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class BuildError(RuntimeError):
    """docker build/push/inspect failed; the message names the image and ends with its output."""


@dataclass(frozen=True)
class DockerCli:
    docker_host: str | None = None
    # A folder of its own for the CLI's config: nothing of the user's ~/.docker is read.
    config_dir: Path | None = None

    def run(self, *args: str, what: str) -> str:
        env = {**os.environ, "DOCKER_BUILDKIT": "0"}
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        if self.config_dir:
            env["DOCKER_CONFIG"] = str(self.config_dir)
        result = subprocess.run(
            ["docker", *args], capture_output=True, text=True, env=env, check=False
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise BuildError(f"{what} failed:\n" + "\n".join(output[-20:]))
        return result.stdout


def build_command(
    name: str, dockerfile: Path, context: Path, build_args: Mapping[str, str]
) -> list[str]:
    args = [f"--build-arg={key}={value}" for key, value in sorted(build_args.items())]
    return ["build", "--network", "none", "-f", str(dockerfile), "-t", name, *args, str(context)]


def repo_digest(inspect_json: str, repository: str) -> str:
    """The `<repository>@sha256:...` of `docker inspect`'s RepoDigests for that repository."""
    digests = json.loads(inspect_json)
    for digest in digests or []:
        if digest.startswith(f"{repository}@sha256:"):
            return digest
    raise BuildError(f"no digest of {repository} after the push (RepoDigests: {digests})")


def build_and_push(
    cli: DockerCli,
    name: str,
    dockerfile: Path,
    context: Path,
    build_args: Mapping[str, str],
) -> str:
    """Build `name` (`repo:tag`), push it, return its digest reference."""
    cli.run(*build_command(name, dockerfile, context, build_args), what=f"docker build of {name}")
    cli.run("push", name, what=f"docker push of {name}")
    repository = name.rsplit(":", 1)[0]
    out = cli.run("inspect", "--format", "{{json .RepoDigests}}", name, what=f"inspect of {name}")
    return repo_digest(out.strip(), repository)
