"""Build contexts: everything an image holds, prepared on the host so the build needs no network.

A Dockerfile of this project only COPYs: the locked Python packages are installed here by uv
(for the image's CPython and platform, from uv's cache), the jar sets come from local-stack's
Maven cache. So a build behaves the same with BuildKit on a laptop, the Pulumi docker provider,
and the legacy builder of a dockerd that has no network at all (the local cluster).

Layout of `<contexts>/<image>/` (each part only where the catalog asks for it):
    site-packages/   third-party runtime packages from uv.lock (changes rarely: its own layer)
    app/             the workspace members themselves (changes with every commit)
    <jar folder>/    a local-stack jar set
    entry/           entry scripts from the repository
    <tool folder>/   a tool's packages (cqlsh)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local_stack.artifacts import JarResolver

from finnhub_images.catalog import ImageSpec

# The images run CPython 3.11 on Debian bookworm (glibc 2.36): wheels are chosen for exactly that.
PYTHON_VERSION = "3.11"
GLIBC = "2_36"
PLATFORM_MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


class ContextError(RuntimeError):
    """A context could not be prepared; the message says which image and why."""


def python_platform(docker_platform: str) -> str:
    """`linux/amd64` -> uv's `x86_64-manylinux_2_36`."""
    try:
        machine = PLATFORM_MACHINES[docker_platform]
    except KeyError:
        raise ContextError(
            f"platform {docker_platform!r} is not one of {sorted(PLATFORM_MACHINES)}"
        ) from None
    return f"{machine}-manylinux_{GLIBC}"


def split_requirements(exported: str) -> tuple[list[str], list[str]]:
    """`uv export` output -> (pinned third-party requirements, local workspace member paths)."""
    pins: list[str] = []
    members: list[str] = []
    for raw in exported.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        (members if line.startswith((".", "/")) else pins).append(line)
    return pins, members


def find_uv(repo_root: Path) -> str:
    """The uv that runs us (`UV`, set by `uv run`), else one on PATH, else the project's own."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(repo_root / ".cache/bin/uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ContextError("no uv found (UV, PATH, .cache/bin/uv): run `make setup` first")


@dataclass(frozen=True)
class ContextBuilder:
    repo_root: Path
    contexts_dir: Path
    jar_resolver: JarResolver
    docker_platform: str = "linux/amd64"
    uv: str | None = None

    def prepare(self, image: ImageSpec) -> Path:
        """(Re)make the context of `image` and return its folder."""
        context = self.contexts_dir / image.name
        if context.exists():
            shutil.rmtree(context)
        context.mkdir(parents=True)
        if image.python_package:
            self._python_package(image, context)
        for folder, jar_set in image.jar_sets.items():
            self.jar_resolver.jars(jar_set)
            _copy_files(self.jar_resolver.jar_dir(jar_set), context / folder, "*.jar")
        if image.entry_dir:
            shutil.copytree(self.repo_root / image.entry_dir, context / "entry")
        for folder, requirements in image.extra_python.items():
            self._install(image, context / folder, list(requirements), self._lock_constraints())
        return context

    def _python_package(self, image: ImageSpec, context: Path) -> None:
        exported = self._uv(
            image,
            "export",
            "--frozen",
            "--no-dev",
            "--no-editable",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
            "--package",
            str(image.python_package),
        )
        pins, members = split_requirements(exported)
        (context / "requirements.txt").write_text("\n".join(pins + members) + "\n")
        self._install(image, context / "site-packages", pins)
        self._install(image, context / "app", members)

    def _lock_constraints(self) -> Path:
        """Every version uv.lock pins, as constraints: a tool's dependencies match the lock."""
        path = self.contexts_dir / "lock-constraints.txt"
        exported = self._uv(
            None,
            "export",
            "--frozen",
            "--all-packages",
            "--all-groups",
            "--no-emit-workspace",
            "--no-hashes",
            "--no-header",
            "--no-annotate",
        )
        path.write_text(exported)
        return path

    def _install(
        self, image: ImageSpec, target: Path, requirements: Sequence[str], constraints: Path | None = None
    ) -> None:
        if not requirements:
            target.mkdir(parents=True, exist_ok=True)
            return
        extra = ["--no-deps"] if constraints is None else ["-c", str(constraints)]
        self._uv(
            image,
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            python_platform(self.docker_platform),
            "--compile-bytecode",
            "--link-mode",
            "copy",
            *extra,
            *requirements,
        )
        # Console scripts made for the host's interpreter; the images run `python -m ...`.
        shutil.rmtree(target / "bin", ignore_errors=True)

    def _uv(self, image: ImageSpec | None, *args: str) -> str:
        uv = self.uv or find_uv(self.repo_root)
        result = subprocess.run(
            [uv, *args], cwd=self.repo_root, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            what = f"the {image.name} image's context" if image else "the lock's constraints"
            tail = "\n".join(result.stderr.strip().splitlines()[-8:])
            raise ContextError(f"uv {args[0]} {args[1]} for {what} failed:\n{tail}")
        return result.stdout


def _copy_files(source: Path, target: Path, pattern: str) -> None:
    """Hard links where the filesystem allows (the jar cache is large), copies elsewhere."""
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(source.glob(pattern))
    if not files:
        raise ContextError(f"{source} holds no {pattern}")
    for file in files:
        try:
            os.link(file, target / file.name)
        except OSError:
            shutil.copy2(file, target / file.name)
