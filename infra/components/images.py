"""AppImages: the producer and processor images, built from their Dockerfiles and pushed.

Workloads reference an image by its repository digest, not its tag: what runs is exactly what
was built, and a rebuilt image under the same tag still rolls the pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_docker as docker
from finnhub_infra.config import ImagesConfig

APPS = ("producer", "processor")


@dataclass(frozen=True)
class AppImagesArgs:
    registry_url: pulumi.Input[str]
    config: ImagesConfig
    repo_root: str


def image_name(registry_url: str, app: str, tag: str) -> str:
    """`<registry>/finnhub-<app>:<tag>`; the eks bootstrap names its ECR repositories so."""
    return f"{registry_url.rstrip('/')}/finnhub-{app}:{tag}"


def build_args(app: str, repo_root: str, cfg: ImagesConfig) -> dict[str, Any]:
    """The whole repository is the build context (the uv workspace lock lives at its root)."""
    return {
        "context": repo_root,
        "dockerfile": f"{repo_root}/apps/{app}/Dockerfile",
        "platform": cfg.platform,
    }


class AppImages(pulumi.ComponentResource):
    """Both app images; `producer` and `processor` are their pinned (digest) references."""

    producer: pulumi.Output[str]
    processor: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("finnhub:infra:AppImages", name, None, opts)
        refs: dict[str, pulumi.Output[str]] = {}
        for app in APPS:
            image = docker.Image(
                f"{name}-{app}",
                image_name=pulumi.Output.from_input(args.registry_url).apply(
                    lambda url, app=app: image_name(url, app, args.config.tag)
                ),
                build=build_args(app, args.repo_root, args.config),
                opts=pulumi.ResourceOptions(parent=self),
            )
            refs[app] = image.repo_digest
        self.producer = refs["producer"]
        self.processor = refs["processor"]
        self.register_outputs({"producer": self.producer, "processor": self.processor})
