"""AppImages: every image the pipeline runs, built from the project's Dockerfiles and pushed.

The app images (producer, processor) build from the repository root. The Kafka and Cassandra
images build from the jar sets local-stack resolves into `.cache/jars/<set>`: the build
context is that folder, so an image holds exactly the jars the tests ran against (built once,
no second resolution that could pick other transitive versions), and its version build arg is
local-stack's pin, which the Dockerfile checks against the jars it copies.

Workloads reference an image by its repository digest, not its tag: what runs is exactly what
was built, and a rebuilt image under the same tag still rolls the pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker as docker
from finnhub_infra.config import ImagesConfig
from local_stack.artifacts import (
    CASSANDRA_JARS,
    CASSANDRA_VERSION,
    KAFKA_JARS,
    KAFKA_VERSION,
    JarResolver,
    JarSet,
)
from local_stack.errors import LocalStackError
from local_stack.settings import LocalStackSettings

APPS = ("producer", "processor")
# cqlsh for the Cassandra image's schema Job: the 6.2 line is the one for Cassandra 5.0.
CQLSH_VERSION = "6.2.2"


@dataclass(frozen=True)
class JvmImage:
    """One of the project's Apache images: its Dockerfile, jar set and version build args."""

    name: str
    jar_set: JarSet
    version: str
    build_args: Mapping[str, str]


JVM_IMAGES = (
    JvmImage("kafka", KAFKA_JARS, KAFKA_VERSION, {"KAFKA_VERSION": KAFKA_VERSION}),
    JvmImage(
        "cassandra",
        CASSANDRA_JARS,
        CASSANDRA_VERSION,
        {"CASSANDRA_VERSION": CASSANDRA_VERSION, "CQLSH_VERSION": CQLSH_VERSION},
    ),
)
IMAGES = APPS + tuple(image.name for image in JVM_IMAGES)


@dataclass(frozen=True)
class AppImagesArgs:
    registry_url: pulumi.Input[str]
    config: ImagesConfig
    repo_root: str
    # Where each JVM image's jar set is resolved (its build context), by image name.
    jar_dirs: Mapping[str, Path]


def image_name(registry_url: str, app: str, tag: str) -> str:
    """`<registry>/finnhub-<app>:<tag>`; the eks bootstrap names its ECR repositories so."""
    return f"{registry_url.rstrip('/')}/finnhub-{app}:{tag}"


def jvm_image_tag(image: JvmImage, cfg: ImagesConfig) -> str:
    """`4.4.0-0.1.0`: the Apache version first, then the project's build (ECR tags are
    immutable, so a rebuilt Dockerfile at the same Apache version needs a new tag)."""
    return f"{image.version}-{cfg.tag}"


def build_args(app: str, repo_root: str, cfg: ImagesConfig) -> dict[str, Any]:
    """The whole repository is the build context (the uv workspace lock lives at its root)."""
    return {
        "context": repo_root,
        "dockerfile": f"{repo_root}/apps/{app}/Dockerfile",
        "platform": cfg.platform,
    }


def jvm_build_args(
    image: JvmImage, repo_root: str, jar_dir: Path, cfg: ImagesConfig
) -> dict[str, Any]:
    """The jar folder is the build context; the Dockerfile lives in `images/<name>/`."""
    args = dict(image.build_args)
    if cfg.jvm_base_image is not None:
        args["BASE_IMAGE"] = cfg.jvm_base_image
    return {
        "context": str(jar_dir),
        "dockerfile": f"{repo_root}/images/{image.name}/Dockerfile",
        "platform": cfg.platform,
        "args": args,
    }


def resolve_jar_dirs(
    repo_root: Path, settings: LocalStackSettings | None = None
) -> dict[str, Path]:
    """Each JVM image's jar folder, resolved with Maven first if this clone has not yet.

    The same cache and fingerprint as `local-stack up`: after the first resolution this is a
    marker check, so the program can call it on every run. A missing Maven or Java, or a
    failed resolution, stops the program with local-stack's message, not a traceback.
    """
    resolver = JarResolver(settings or LocalStackSettings(project_root=repo_root))
    dirs = {}
    for image in JVM_IMAGES:
        try:
            resolver.jars(image.jar_set)
        except LocalStackError as error:
            raise pulumi.RunError(
                f"the {image.name} image is built from the {image.jar_set.name} jar set, "
                f"which could not be resolved: {error}"
            ) from error
        dirs[image.name] = resolver.jar_dir(image.jar_set)
    return dirs


class AppImages(pulumi.ComponentResource):
    """Every image; each attribute is the pinned (digest) reference of one."""

    producer: pulumi.Output[str]
    processor: pulumi.Output[str]
    kafka: pulumi.Output[str]
    cassandra: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:AppImages", name, None, opts)
        registry = pulumi.Output.from_input(args.registry_url)
        builds: dict[str, tuple[str, dict[str, Any]]] = {
            app: (args.config.tag, build_args(app, args.repo_root, args.config)) for app in APPS
        }
        for image in JVM_IMAGES:
            builds[image.name] = (
                jvm_image_tag(image, args.config),
                jvm_build_args(image, args.repo_root, args.jar_dirs[image.name], args.config),
            )
        refs: dict[str, pulumi.Output[str]] = {}
        for app, (tag, build) in builds.items():
            built = docker.Image(
                f"{name}-{app}",
                image_name=registry.apply(lambda url, app=app, tag=tag: image_name(url, app, tag)),
                build=build,
                opts=pulumi.ResourceOptions(parent=self),
            )
            refs[app] = built.repo_digest
        self.producer = refs["producer"]
        self.processor = refs["processor"]
        self.kafka = refs["kafka"]
        self.cassandra = refs["cassandra"]
        self.register_outputs(refs)
