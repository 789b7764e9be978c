"""A PATH as a fresh machine gives a new user: system directories and the named tools, no uv.

The project must work with only the uv it installs itself (.cache/bin); a uv of the developer's own
on PATH would hide every place that still runs a bare `uv`, so the checks that prove this run on
this PATH instead of the inherited one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SYSTEM_DIRS = ("/usr/bin", "/bin")
# Set by `uv run` (the uv running the suite) and by an activated venv: a fresh shell has neither.
INHERITED_HINTS = ("UV", "VIRTUAL_ENV")


def path_without_uv(*tools: str) -> str:
    """System directories plus the directory of each named tool; fails if a uv is among them."""
    dirs = list(SYSTEM_DIRS)
    for tool in tools:
        found = shutil.which(tool)
        if found is None:
            pytest.fail(f"{tool} is not on PATH; it is a stated requirement of this check")
        dirs.append(str(Path(found).parent))
    path = os.pathsep.join(dict.fromkeys(dirs))
    stray = shutil.which("uv", path=path)
    if stray is not None:
        pytest.fail(f"a uv sits at {stray}, a system directory: no PATH without uv can be made")
    return path


def environment_without_uv(*tools: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_HINTS}
    env["PATH"] = path_without_uv(*tools)
    env.update(extra)
    return env
