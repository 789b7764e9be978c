"""The Pulumi toolchain every test here runs: built by tools/pulumi/install.sh (once; cached).

Outside CI a machine without it skips these tests; under CI=true a missing toolchain is built, and
a failed build fails the run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "tools" / "pulumi" / "install.sh"


def toolchain_is_built() -> bool:
    check = subprocess.run(["bash", str(INSTALL_SCRIPT), "--check"], check=False)
    return check.returncode == 0


@pytest.fixture(scope="session")
def toolchain() -> None:
    if toolchain_is_built():
        return
    if os.environ.get("CI") == "true":
        # A fresh machine builds the toolchain once (tens of minutes on two cores); later runs on
        # the same machine find it cached.
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True)
        return
    pytest.skip("the Pulumi toolchain is not built: run tools/pulumi/install.sh or make preview")
