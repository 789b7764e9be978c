"""Every image the pipeline runs, its name and tag, and what its build context holds.

One table for both ways an image is built: `finnhub-images build` (docker CLI, legacy builder,
no network: the local cluster and CI) and the Pulumi docker provider (minikube, eks). Both build
the same Dockerfile on the same prepared context, so a test of one is a test of the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from finnhub_contracts.versions import (
    CASSANDRA_VERSION,
    CQLSH_VERSION,
    KAFKA_VERSION,
    SCALA_BINARY_VERSION,
    SPARK_VERSION,
)
from local_stack.artifacts import CASSANDRA_JARS, KAFKA_JARS, SPARK_CONNECTOR_JARS, JarSet


@dataclass(frozen=True)
class ImageSpec:
    """One image: its Dockerfile, what its context is made of, and its version build args.

    - `python_package`: a workspace member whose locked runtime dependencies go to
      `site-packages/` and which itself (with any workspace members it needs) goes to `app/`.
    - `jar_sets`: local-stack jar sets, each copied to `<folder>/` in the context.
    - `entry_dir`: a repository folder copied to `entry/` (entry scripts the image runs).
    - `extra_python`: packages (pinned) installed to `<folder>/` for a tool inside the image.
    - `version`: the upstream version the image carries (Kafka, Cassandra), else None.
    - `base`: which kind of base it builds FROM: `python` (CPython 3.11) or `jvm` (CPython 3.11
      or none, and a JRE 17); a build may swap the Dockerfile's default base of that kind.
    """

    name: str
    dockerfile: str
    python_package: str | None = None
    jar_sets: Mapping[str, JarSet] = field(default_factory=dict)
    entry_dir: str | None = None
    extra_python: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    version: str | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    base: Literal["python", "jvm"] = "jvm"


BASE_KINDS = ("python", "jvm")

PRODUCER = ImageSpec(
    "producer", "apps/producer/Dockerfile", python_package="finnhub-producer", base="python"
)
FAKE_FEED = ImageSpec(
    "fake-feed", "apps/fake-feed/Dockerfile", python_package="finnhub-fake-feed", base="python"
)
PROCESSOR = ImageSpec(
    "processor",
    "apps/processor/Dockerfile",
    python_package="finnhub-processor",
    jar_sets={"connectors": SPARK_CONNECTOR_JARS},
    entry_dir="apps/processor/image",
    build_args={"SPARK_VERSION": SPARK_VERSION, "SCALA_BINARY_VERSION": SCALA_BINARY_VERSION},
)
KAFKA = ImageSpec(
    "kafka",
    "images/kafka/Dockerfile",
    jar_sets={"jars": KAFKA_JARS},
    version=KAFKA_VERSION,
    build_args={"KAFKA_VERSION": KAFKA_VERSION, "SCALA_BINARY_VERSION": SCALA_BINARY_VERSION},
)
CASSANDRA = ImageSpec(
    "cassandra",
    "images/cassandra/Dockerfile",
    jar_sets={"jars": CASSANDRA_JARS},
    entry_dir="images/cassandra/entry",
    extra_python={"cqlsh": (f"cqlsh=={CQLSH_VERSION}",)},
    version=CASSANDRA_VERSION,
    build_args={"CASSANDRA_VERSION": CASSANDRA_VERSION, "CQLSH_VERSION": CQLSH_VERSION},
)
IMAGES: tuple[ImageSpec, ...] = (PRODUCER, FAKE_FEED, PROCESSOR, KAFKA, CASSANDRA)
BY_NAME = {image.name: image for image in IMAGES}


def image_repository(registry_url: str, image: ImageSpec) -> str:
    """`<registry>/finnhub-<name>`; the eks bootstrap names its ECR repositories so."""
    return f"{registry_url.rstrip('/')}/finnhub-{image.name}"


def image_tag(image: ImageSpec, project_tag: str) -> str:
    """The project's tag, after the Apache version for Kafka/Cassandra (`4.4.0-0.1.0`): ECR tags
    are immutable, so a rebuilt Dockerfile at the same Apache version needs a new tag."""
    return f"{image.version}-{project_tag}" if image.version else project_tag


def image_name(registry_url: str, image: ImageSpec, project_tag: str) -> str:
    return f"{image_repository(registry_url, image)}:{image_tag(image, project_tag)}"


def build_arguments(image: ImageSpec, base_images: Mapping[str, str]) -> dict[str, str]:
    """The image's version args, plus `BASE_IMAGE` when a base other than the Dockerfile's own
    pinned default is given for its kind (a mirror; the local cluster's bases, which need no
    apt)."""
    args = dict(image.build_args)
    if image.base in base_images:
        args["BASE_IMAGE"] = base_images[image.base]
    return args
