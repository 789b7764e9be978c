"""AppImages: every image the pipeline runs, as a digest reference per image.

Two sources, one set of images (`finnhub_images.catalog`: the same Dockerfiles and the same
prepared build contexts either way):
- `build` (minikube, eks): Pulumi's docker provider builds each image from the context
  `finnhub_images.contexts` prepares and pushes it to the bootstrap's registry.
- `prebuilt` (local, and any CI that builds once): `finnhub-images build` has built and pushed
  them; the stack deploys the digests recorded in its references file.

Workloads reference an image by its repository digest, not its tag: what runs is exactly what
was built, and a rebuilt image under the same tag still rolls the pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from finnhub_images.catalog import IMAGES, ImageSpec, build_arguments, image_name
from finnhub_images.contexts import ContextBuilder, ContextError
from finnhub_images.references import ReferencesError, read_references
from local_stack.artifacts import JarResolver
from local_stack.errors import LocalStackError
from local_stack.settings import LocalStackSettings

from finnhub_infra.config import ImagesConfig

# Only a stack that runs the in-cluster fake feed needs its image.
OPTIONAL_IMAGES = ("fake-feed",)


@dataclass(frozen=True)
class AppImagesArgs:
    registry_url: pulumi.Input[str]
    config: ImagesConfig
    repo_root: str
    with_fake_feed: bool = False


def wanted_images(with_fake_feed: bool) -> tuple[ImageSpec, ...]:
    return tuple(
        image
        for image in IMAGES
        if image.name not in OPTIONAL_IMAGES or (with_fake_feed and image.name == "fake-feed")
    )


def docker_build_args(
    image: ImageSpec, context: Path, repo_root: str, cfg: ImagesConfig
) -> dict[str, Any]:
    """The docker provider's `build` input for one image on its prepared context."""
    return {
        "context": str(context),
        "dockerfile": f"{repo_root}/{image.dockerfile}",
        "platform": cfg.platform,
        "args": build_arguments(image, cfg.base_images),
    }


def prepare_contexts(
    repo_root: Path, cfg: ImagesConfig, images: tuple[ImageSpec, ...]
) -> dict[str, Path]:
    """Each image's build context, made before the docker provider reads it. A missing tool or
    a failed resolution stops the program with one message naming the image, not a traceback."""
    builder = ContextBuilder(
        repo_root=repo_root,
        contexts_dir=repo_root / ".cache/images/contexts",
        jar_resolver=JarResolver(LocalStackSettings(project_root=repo_root)),
        docker_platform=cfg.platform,
    )
    contexts = {}
    for image in images:
        try:
            contexts[image.name] = builder.prepare(image)
        except (ContextError, LocalStackError) as error:
            raise pulumi.RunError(f"the {image.name} image's build context: {error}") from error
    return contexts


def prebuilt_references(
    repo_root: Path, cfg: ImagesConfig, images: tuple[ImageSpec, ...]
) -> dict[str, str]:
    names = [image.name for image in images]
    try:
        refs = read_references(repo_root / cfg.references_file, names)
    except ReferencesError as error:
        raise pulumi.RunError(str(error)) from error
    return {name: refs[name] for name in names}


class AppImages(pulumi.ComponentResource):
    """Every image; each attribute is the pinned (digest) reference of one."""

    producer: pulumi.Output[str]
    processor: pulumi.Output[str]
    kafka: pulumi.Output[str]
    cassandra: pulumi.Output[str]
    fake_feed: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: AppImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:AppImages", name, None, opts)
        repo_root = Path(args.repo_root)
        images = wanted_images(args.with_fake_feed)
        refs: dict[str, pulumi.Output[str]]
        if args.config.source == "prebuilt":
            refs = {
                image: pulumi.Output.from_input(ref)
                for image, ref in prebuilt_references(repo_root, args.config, images).items()
            }
        else:
            refs = self._build(name, args, images, prepare_contexts(repo_root, args.config, images))
        self.producer = refs["producer"]
        self.processor = refs["processor"]
        self.kafka = refs["kafka"]
        self.cassandra = refs["cassandra"]
        self.fake_feed = refs.get("fake-feed")
        self.register_outputs(refs)

    def _build(
        self,
        name: str,
        args: AppImagesArgs,
        images: tuple[ImageSpec, ...],
        contexts: dict[str, Path],
    ) -> dict[str, pulumi.Output[str]]:
        # Imported here: a prebuilt stack needs no docker provider plugin at all.
        import pulumi_docker as docker

        registry = pulumi.Output.from_input(args.registry_url)
        refs = {}
        for image in images:
            built = docker.Image(
                f"{name}-{image.name}",
                image_name=registry.apply(
                    lambda url, image=image: image_name(url, image, args.config.tag)
                ),
                build=docker_build_args(image, contexts[image.name], args.repo_root, args.config),
                opts=pulumi.ResourceOptions(parent=self),
            )
            refs[image.name] = built.repo_digest
        return refs
