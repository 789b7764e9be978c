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

import fcntl
import hashlib
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
        """Make the context of `image` unless it is current; return its folder.

        Current = the marker holds the fingerprint of everything the context is made from (the
        exported lock, the workspace members' files, the jar sets, the entry scripts), so the
        Pulumi program can call this on every run and a preview stays a check, not a copy.
        A file lock keeps two builds (a deploy and a test, say) from making one context at once.
        """
        context = self.contexts_dir / image.name
        self.contexts_dir.mkdir(parents=True, exist_ok=True)
        with (self.contexts_dir / f"{image.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            exported = self._export(image) if image.python_package else ""
            fingerprint = self._fingerprint(image, exported)
            marker = context / ".prepared"
            if marker.is_file() and marker.read_text() == fingerprint:
                return context
            if context.exists():
                shutil.rmtree(context)
            context.mkdir(parents=True)
            self._make(image, context, exported)
            marker.write_text(fingerprint)
        return context

    def _fingerprint(self, image: ImageSpec, exported: str) -> str:
        digest = hashlib.sha256(repr(image).encode())
        digest.update(exported.encode())
        _, members = split_requirements(exported)
        folders = [self.repo_root / member for member in members]
        if image.entry_dir:
            folders.append(self.repo_root / image.entry_dir)
        for folder in folders:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(self.repo_root)).encode())
                    digest.update(path.read_bytes())
        for jar_set in image.jar_sets.values():
            self.jar_resolver.jars(jar_set)
            for jar in sorted(self.jar_resolver.jar_dir(jar_set).glob("*.jar")):
                digest.update(f"{jar.name}:{jar.stat().st_size}".encode())
        if image.extra_python:
            digest.update((self.repo_root / "uv.lock").read_bytes())
        return digest.hexdigest()

    def _export(self, image: ImageSpec) -> str:
        return self._uv(
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

    def _make(self, image: ImageSpec, context: Path, exported: str) -> None:
        if image.python_package:
            self._python_package(image, context, exported)
        for folder, jar_set in image.jar_sets.items():
            self.jar_resolver.jars(jar_set)
            _copy_files(self.jar_resolver.jar_dir(jar_set), context / folder, "*.jar")
        if image.entry_dir:
            shutil.copytree(self.repo_root / image.entry_dir, context / "entry")
        for folder, requirements in image.extra_python.items():
            self._install(image, context / folder, list(requirements), self._lock_constraints())

    def _python_package(self, image: ImageSpec, context: Path, exported: str) -> None:
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
        self,
        image: ImageSpec,
        target: Path,
        requirements: Sequence[str],
        constraints: Path | None = None,
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
