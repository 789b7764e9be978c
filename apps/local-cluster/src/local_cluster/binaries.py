"""The cluster's own binaries, built from published Go modules into the project's cache.

Nothing prebuilt is downloaded. Each build has a wrapper module under apps/local-cluster/go/ and a
stamp beside its binaries: a hash of the wrapper's files, the Go version and the build flags. A
binary is rebuilt only when that hash changes; Go's module and build caches (at their defaults)
make a rebuild on the same machine cheap.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from local_cluster.errors import BuildError

KUBERNETES_VERSION = "v1.34.4"
ETCD_VERSION = "v3.6.16"
COREDNS_VERSION = "v1.14.7"

_VERSION_PACKAGE = "k8s.io/component-base/version"
_BUILD_FLAGS = ("-buildvcs=false", "-trimpath")

GO_SOURCES = Path(__file__).resolve().parents[2] / "go"


@dataclass(frozen=True)
class GoBuild:
    """One `go build` of one wrapper module: several main packages share its compile work."""

    name: str
    packages: tuple[str, ...]
    outputs: tuple[str, ...]
    ldflags: str = "-s -w"

    @property
    def wrapper(self) -> Path:
        return GO_SOURCES / self.name


KUBERNETES = GoBuild(
    name="kubernetes",
    packages=tuple(
        f"k8s.io/kubernetes/cmd/{command}"
        for command in (
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubelet",
            "kube-proxy",
            "kubectl",
        )
    ),
    outputs=(
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
        "kubectl",
    ),
    # Without the version the binaries report v0.0.0, which the API server's emulation-version
    # checks and every client's version skew check reject.
    ldflags=" ".join(
        (
            "-s -w",
            f"-X {_VERSION_PACKAGE}.gitVersion={KUBERNETES_VERSION}",
            f"-X {_VERSION_PACKAGE}.gitMajor=1",
            f"-X {_VERSION_PACKAGE}.gitMinor={KUBERNETES_VERSION.split('.')[1]}",
            f"-X {_VERSION_PACKAGE}.gitTreeState=clean",
        )
    ),
)
ETCD = GoBuild(name="etcd", packages=("go.etcd.io/etcd/server/v3",), outputs=("etcd",))
COREDNS = GoBuild(name="coredns", packages=(".",), outputs=("coredns",))
PAUSE = GoBuild(name="pause", packages=(".",), outputs=("pause",))

# Kubernetes first: it is the long one, and every later build reuses the warm module cache.
ALL_BUILDS = (KUBERNETES, ETCD, COREDNS, PAUSE)


def stamp_of(build: GoBuild, go_version: str) -> str:
    """What the binaries of one build depend on: wrapper files, Go version, flags."""
    digest = hashlib.sha256()
    digest.update(go_version.encode())
    digest.update(" ".join((*_BUILD_FLAGS, build.ldflags, *build.packages)).encode())
    for path in sorted(build.wrapper.iterdir()):
        if path.is_file() and (path.name in ("go.mod", "go.sum") or path.suffix == ".go"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _stamp_file(bin_dir: Path, build: GoBuild) -> Path:
    return bin_dir / f".{build.name}.stamp"


def go_version(go: str) -> str:
    try:
        result = subprocess.run([go, "version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise BuildError(
            f"Go ({go!r}) is needed to build the cluster's binaries and did not run: {error}. "
            "Install Go 1.26 or set LOCAL_CLUSTER_GO."
        ) from error
    return result.stdout.strip()


def is_current(build: GoBuild, bin_dir: Path, go_version_text: str) -> bool:
    stamp = _stamp_file(bin_dir, build)
    return (
        all((bin_dir / output).is_file() for output in build.outputs)
        and stamp.is_file()
        and stamp.read_text().strip() == stamp_of(build, go_version_text)
    )


def ensure_built(
    bin_dir: Path, go: str, report: Callable[[str], None], log_dir: Path
) -> dict[str, float]:
    """Builds what is missing or stale; returns {build name: seconds} of the builds it ran."""
    version = go_version(go)
    bin_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for build in ALL_BUILDS:
        if is_current(build, bin_dir, version):
            continue
        report(f"building {', '.join(build.outputs)} (one-off; later runs reuse them)")
        started = time.monotonic()
        _go_build(build, bin_dir, go, log_dir / f"build-{build.name}.log")
        timings[build.name] = time.monotonic() - started
        _stamp_file(bin_dir, build).write_text(stamp_of(build, version) + "\n")
        report(f"built {', '.join(build.outputs)} in {timings[build.name]:.0f} s")
    return timings


def _go_build(build: GoBuild, bin_dir: Path, go: str, log_file: Path) -> None:
    # One invocation for all of a module's commands: they share most packages, and go build
    # compiles each shared package once. Static binaries: no C toolchain, and the pause and
    # CoreDNS binaries go into images that have no libc.
    output = f"{bin_dir}/" if len(build.outputs) > 1 else str(bin_dir / build.outputs[0])
    command = [
        "nice",
        "-n",
        "19",
        go,
        "build",
        *_BUILD_FLAGS,
        "-ldflags",
        build.ldflags,
        "-o",
        output,
        *build.packages,
    ]
    env = {**os.environ, "CGO_ENABLED": "0"}
    with log_file.open("w") as log:
        result = subprocess.run(
            command, cwd=build.wrapper, stdout=log, stderr=subprocess.STDOUT, env=env, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        raise BuildError(f"go build of {build.name} failed (log {log_file}):\n{tail}")
