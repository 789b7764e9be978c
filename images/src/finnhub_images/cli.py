"""`finnhub-images build`: prepare each image's context, build it without network, push it, and
record its digest in the references file a `prebuilt` stack deploys from."""

from __future__ import annotations

import argparse
import sys
import time

from local_stack.artifacts import JarResolver
from local_stack.errors import LocalStackError
from local_stack.settings import LocalStackSettings, find_project_root

from finnhub_images.catalog import BASE_KINDS, BY_NAME, IMAGES, build_arguments, image_name
from finnhub_images.contexts import ContextBuilder, ContextError
from finnhub_images.docker_build import BuildError, DockerCli, build_and_push
from finnhub_images.references import write_references

DEFAULT_TAG = "0.1.0"
DEFAULT_REFERENCES = ".state/images/references.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="finnhub-images", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build, push and pin images")
    build.add_argument("--registry", required=True, help="push to this registry (host:port)")
    build.add_argument("--tag", default=DEFAULT_TAG, help="the project's image tag")
    build.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BY_NAME)}")
    build.add_argument(
        "--base-image",
        action="append",
        default=[],
        metavar="KIND=IMAGE",
        help=f"BASE_IMAGE of every image of that kind ({', '.join(BASE_KINDS)}); repeatable",
    )
    build.add_argument("--docker-host", help="DOCKER_HOST of the daemon to build on")
    build.add_argument(
        "--references", default=DEFAULT_REFERENCES, help="file of digest references to update"
    )
    build.add_argument("--platform", default="linux/amd64", help="the images' platform")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()] or list(BY_NAME)
    unknown = [name for name in names if name not in BY_NAME]
    if unknown:
        print(f"finnhub-images: unknown image {', '.join(unknown)} (--only)", file=sys.stderr)
        return 2
    bases = dict(item.split("=", 1) for item in args.base_image if "=" in item)
    if len(bases) != len(args.base_image) or not set(bases) <= set(BASE_KINDS):
        print(
            f"finnhub-images: --base-image takes KIND=IMAGE, KIND one of {', '.join(BASE_KINDS)}",
            file=sys.stderr,
        )
        return 2
    root = find_project_root()
    contexts = ContextBuilder(
        repo_root=root,
        contexts_dir=root / ".cache/images/contexts",
        jar_resolver=JarResolver(LocalStackSettings(project_root=root)),
        docker_platform=args.platform,
    )
    cli = DockerCli(docker_host=args.docker_host, config_dir=root / ".cache/images/docker-cli")
    refs: dict[str, str] = {}
    for image in IMAGES:
        if image.name not in names:
            continue
        started = time.monotonic()
        name = image_name(args.registry, image, args.tag)
        try:
            context = contexts.prepare(image)
            prepared = time.monotonic() - started
            refs[image.name] = build_and_push(
                cli,
                name,
                root / image.dockerfile,
                context,
                build_arguments(image, bases),
            )
        except (ContextError, BuildError, LocalStackError) as error:
            print(f"finnhub-images: {image.name}: {error}", file=sys.stderr)
            return 1
        took = time.monotonic() - started
        print(
            f"finnhub-images: {refs[image.name]} "
            f"(context {prepared:.0f} s, build+push {took - prepared:.0f} s)",
            flush=True,
        )
    write_references(root / args.references, refs)
    print(f"finnhub-images: references in {args.references}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
