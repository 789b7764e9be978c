"""Images built on this machine and pushed to the local registry: nothing is ever pulled.

The base image is a `debootstrap --variant=minbase` Debian rootfs from the machine's own apt
sources; the pause and CoreDNS images are single static binaries built here.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local_cluster.errors import LocalClusterError


@dataclass(frozen=True)
class BaseImage:
    """A Debian rootfs made with debootstrap, under the names a Dockerfile would pull."""

    key: str
    names: tuple[str, ...]
    include: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ("bash",)


BOOKWORM = BaseImage(
    "debian-bookworm",
    (
        "docker.io/library/debian:bookworm-slim",
        "docker.io/library/debian:bookworm",
        "docker.io/library/debian:12-slim",
    ),
)
# Debian bookworm's own Python 3.11 (3.11.2): what the project's apps run on. Named like the
# public image's floating tag; the apps' Dockerfiles pin a patch release of the public image,
# which this does not pretend to be.
PYTHON_311 = BaseImage(
    "python-3.11-bookworm",
    ("docker.io/library/python:3.11-slim-bookworm", "docker.io/library/python:3.11-slim"),
    include=("python3", "python3-venv", "python-is-python3", "ca-certificates"),
    cmd=("python3",),
)
# Debian bookworm's OpenJDK 17 (headless JDK): the JVM the processor's Spark runs on.
OPENJDK_17 = BaseImage(
    "openjdk-17-bookworm",
    ("docker.io/library/openjdk:17-jdk-slim-bookworm", "docker.io/library/openjdk:17-jdk-slim"),
    include=("openjdk-17-jdk-headless", "ca-certificates"),
    cmd=("jshell",),
)
# The project's own images build FROM this one here (`BASE_IMAGE` build arg): Python 3.11 and a
# JRE 17 already in place, because builds on this dockerd have no network for apt. A name of the
# project's, not a public image's: there is no public image with exactly these contents.
PYTHON_JRE = BaseImage(
    "python-3.11-jre-17-bookworm",
    ("finnhub-base/python-jre:3.11-17-bookworm",),
    include=(
        "python3",
        "python3-venv",
        "ca-certificates",
        "openjdk-17-jre-headless",
        "procps",
        "tini",
    ),
    cmd=("python3",),
)
BASE_IMAGES = (BOOKWORM, PYTHON_311, OPENJDK_17, PYTHON_JRE)


def local_base_reference(registry: str, image: BaseImage = PYTHON_JRE) -> str:
    """How a Dockerfile's FROM names a base published here (dockerd holds it under this tag)."""
    return f"{registry}/{image.names[0]}"


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The machine's own Debian mirror for bookworm, from its apt sources (deb822 or one-line)."""
    candidates: list[str] = []
    for path in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        uris, suites = "", ""
        for line in [*path.read_text().splitlines(), ""]:
            if line.startswith("URIs:"):
                uris = line.split(":", 1)[1].strip()
            elif line.startswith("Suites:"):
                suites = line.split(":", 1)[1]
            elif not line.strip():
                if "bookworm" in suites.split() and uris:
                    candidates.append(uris.split()[0])
                uris, suites = "", ""
    one_line = sources_dir / "sources.list"
    if one_line.is_file():
        for line in one_line.read_text().splitlines():
            words = line.split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == "bookworm":
                candidates.append(words[1])
    if not candidates:
        raise LocalClusterError(
            f"no apt source for bookworm under {sources_dir}: debootstrap needs one"
        )
    return candidates[0]


def single_binary_tar(binary: Path, name: str) -> bytes:
    """An image rootfs holding one static binary at /<name>, and nothing else."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tar.gettarinfo(str(binary), arcname=name)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755
        with binary.open("rb") as handle:
            tar.addfile(info, handle)
        for folder in ("etc", "tmp"):
            entry = tarfile.TarInfo(folder)
            entry.type = tarfile.DIRTYPE
            entry.mode = 0o1777 if folder == "tmp" else 0o755
            tar.addfile(entry)
    return buffer.getvalue()


class ImageBuilder:
    """Talks to the cluster's own dockerd and registry; knows nothing of Kubernetes."""

    def __init__(
        self, docker_socket: Path, registry: str, cache_dir: Path, log: Callable[[str], None]
    ):
        self.docker_host = f"unix://{docker_socket}"
        self.registry = registry
        self.cache_dir = cache_dir
        self.log = log

    def docker(self, *args: str, stdin: bytes | None = None) -> str:
        result = subprocess.run(
            ["docker", "-H", self.docker_host, *args],
            input=stdin,
            capture_output=True,
            env={
                **os.environ,
                "DOCKER_BUILDKIT": "0",
                "DOCKER_CONFIG": str(self.cache_dir / "docker-cli"),
            },
            check=False,
        )
        if result.returncode != 0:
            raise LocalClusterError(
                f"docker {args[0]} failed: {result.stderr.decode(errors='replace').strip()[-1500:]}"
            )
        return result.stdout.decode(errors="replace")

    def in_registry(self, name: str) -> bool:
        repository, tag = name.rsplit(":", 1)
        request = urllib.request.Request(
            f"http://{self.registry}/v2/{repository}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status == 200
        except urllib.error.HTTPError:
            return False

    def publish(
        self, rootfs: bytes | Path, names: tuple[str, ...], changes: tuple[str, ...]
    ) -> None:
        """docker import once, then tag and push under every name (local tag kept for FROM)."""
        if all(self.in_registry(name) for name in names):
            return
        change_args = [arg for change in changes for arg in ("--change", change)]
        first = f"{self.registry}/{names[0]}"
        if isinstance(rootfs, Path):
            self.docker("import", *change_args, str(rootfs), first)
        else:
            self.docker("import", *change_args, "-", first, stdin=rootfs)
        for name in names:
            local = f"{self.registry}/{name}"
            self.docker("tag", first, local)
            short = name.removeprefix("docker.io/library/")
            if short != name:
                self.docker("tag", first, short)
            self.docker("push", local)
            self.log(f"pushed {name} to the local registry")

    def publish_binary(self, binary: Path, name: str) -> None:
        entry = f"/{binary.name}"
        self.publish(single_binary_tar(binary, binary.name), (name,), (f'ENTRYPOINT ["{entry}"]',))

    def publish_base(self, image: BaseImage) -> None:
        tar_path = self.cache_dir / "images" / f"{image.key}.tar"
        if not tar_path.is_file():
            self._debootstrap(image, tar_path)
        cmd = json.dumps(list(image.cmd))
        self.publish(tar_path, image.names, (f"CMD {cmd}",))

    def _debootstrap(self, image: BaseImage, tar_path: Path) -> None:
        root = tar_path.with_suffix(".rootfs")
        shutil.rmtree(root, ignore_errors=True)
        tar_path.parent.mkdir(parents=True, exist_ok=True)
        mirror = apt_mirror()
        self.log(f"building the {image.key} rootfs with debootstrap (one-off, about 1.5 min)")
        include = ["--include=" + ",".join(image.include)] if image.include else []
        command = [
            "nice",
            "-n",
            "10",
            "debootstrap",
            "--variant=minbase",
            *include,
            "bookworm",
            str(root),
            mirror,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise LocalClusterError(f"debootstrap of {image.key} failed:\n{tail}")
        # Slim like the public image: no apt lists or caches in the layer.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        partial = tar_path.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True
        )
        partial.rename(tar_path)
        shutil.rmtree(root, ignore_errors=True)
