"""The Debian packages the cluster runs on, installed with apt-get when missing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

from local_cluster.errors import MissingPackageError, NotRootError

# dockerd 20.10, containerd 1.6 and runc 1.1 (docker.io pulls the other two in); the CNI bridge,
# host-local, loopback and portmap plugins; distribution 2.8 as the image registry; debootstrap for
# the base image; iptables for kube-proxy and the cluster's own guard chains.
REQUIRED_PACKAGES = (
    "docker.io",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "docker-registry",
    "debootstrap",
    "iptables",
)


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise NotRootError(
            f"{what} needs root (network namespaces, mounts, iptables, cgroups, apt-get); "
            "run it as root, e.g. `sudo -E uv run local-cluster up`"
        )


def missing_packages(packages: tuple[str, ...] = REQUIRED_PACKAGES) -> list[str]:
    """The packages dpkg does not report as installed."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        line.split()[0]
        for line in result.stdout.splitlines()
        if line.strip().endswith(" installed")
    }
    return [name for name in packages if name not in installed]


def install_missing(report: Callable[[str], None]) -> list[str]:
    """apt-get installs whatever is missing (after an update); returns what it installed."""
    missing = missing_packages()
    if not missing:
        return []
    require_root("installing Debian packages")
    report(f"installing Debian packages: {' '.join(missing)} (apt-get update first)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise MissingPackageError(f"`{' '.join(command)}` failed:\n{tail}")
    still_missing = missing_packages()
    if still_missing:
        raise MissingPackageError(f"apt-get did not install: {' '.join(still_missing)}")
    return missing
