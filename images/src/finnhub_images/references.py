"""The file that hands built images to a Pulumi stack: image name -> digest reference.

`finnhub-images build` writes it; a stack with `images.source: prebuilt` reads it. CI builds
once, and the infrastructure deploys exactly those digests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

DIGEST_REFERENCE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


class ReferencesError(ValueError):
    """The references file is missing, unreadable, or lacks an image; says how to make it."""


def parse_references(text: str, required: Iterable[str], source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReferencesError(f"{source} is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise ReferencesError(f"{source} must hold an object of image name -> reference")
    missing = [name for name in required if name not in data]
    if missing:
        raise ReferencesError(
            f"{source} has no image {', '.join(missing)}: run `finnhub-images build` for them"
        )
    refs: dict[str, str] = {}
    for name, ref in data.items():
        if not isinstance(ref, str) or not DIGEST_REFERENCE.match(ref):
            raise ReferencesError(
                f"{source}: image {name!r} must be a digest reference (repo@sha256:...), "
                f"got {ref!r}"
            )
        refs[name] = ref
    return refs


def read_references(path: Path, required: Iterable[str]) -> dict[str, str]:
    if not path.is_file():
        raise ReferencesError(
            f"no image references at {path}: build and push the images first "
            "(`make deploy-local` does, or `uv run finnhub-images build`)"
        )
    return parse_references(path.read_text(), required, str(path))


def write_references(path: Path, refs: Mapping[str, str]) -> None:
    """Merge `refs` into the file (an image built alone keeps the others' references)."""
    current: dict[str, str] = {}
    if path.is_file():
        current = json.loads(path.read_text())
    current.update(refs)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(dict(sorted(current.items())), indent=2) + "\n")
    partial.replace(path)
