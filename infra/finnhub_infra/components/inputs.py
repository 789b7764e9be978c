"""Values the pure builders compute from Pulumi Inputs: a DNS name from the namespace, a label
from the image reference.

The namespace comes from the bootstrap and the image digests from the builds, so in a real run
both are Outputs; in the tests they are plain strings. `derive` serves both, so a builder needs
no `Output.apply` around the whole manifest: only the one value computed from an Input waits
for it, and everything else in the manifest stays plain and visible in a preview.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pulumi

T = TypeVar("T")
U = TypeVar("U")


def derive(value: pulumi.Input[T], compute: Callable[[T], U]) -> U | pulumi.Output[U]:
    """`compute(value)`: at once for a plain value, once resolved where the value is, or holds
    (in a dict, list or tuple), an Input the engine resolves later."""
    if is_plain(value):
        return compute(value)  # type: ignore[arg-type]
    return pulumi.Output.from_input(value).apply(compute)


def is_plain(value: object) -> bool:
    """No Output or awaitable anywhere in it."""
    if isinstance(value, dict):
        return all(is_plain(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(is_plain(item) for item in value)
    return isinstance(value, str | int | float | bool | type(None))
