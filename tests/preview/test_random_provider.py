"""The real random provider (tools/pulumi/random/): pulumi-random's schema, and real values on `up`.

The schema is read from the built plugin itself (`pulumi package get-schema`), so it is what the
engine is served. The lifecycle runs a throwaway program, a RandomPassword and a RandomId, through
`pulumi up`, a no-change preview and `pulumi destroy`: local file backend, PULUMI_HOME and a
throwaway passphrase all under a temporary directory, plugins only from the toolchain on PATH. Its
stack has no config of its own, which the language host must hand the program as an empty object.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_random
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("PULUMI_TOOLCHAIN_BIN", REPO_ROOT / ".cache" / "pulumi" / "bin"))
# Throwaway: it guards only the temporary stack of this test.
PASSPHRASE = "finnhub-random-provider-test-only"
PROJECT = "random-provider-check"
STACK = "check"
PASSWORD_LENGTH = 24
ID_BYTES = 16
PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
ID_TYPE = "random:index/randomId:RandomId"
# What infra/ uses of pulumi_random, by class: the inputs it sets and the outputs it reads
# (cassandra.py and grafana.py: RandomPassword(length, special).result; kafka.py:
# RandomId(byte_length).b64_url).
INFRA_USES = {
    "RandomPassword": {"inputs": {"length", "special"}, "outputs": {"result"}},
    "RandomId": {"inputs": {"byteLength"}, "outputs": {"b64Url"}},
}
PROGRAM = f"""\
import pulumi
import pulumi_random as random

password = random.RandomPassword("password", length={PASSWORD_LENGTH}, special=False)
ident = random.RandomId("ident", byte_length={ID_BYTES})
pulumi.export("password", password.result)
pulumi.export("b64_url", ident.b64_url)
pulumi.export("hex", ident.hex)
pulumi.export("dec", ident.dec)
"""

# The first test may build the toolchain (cold: tens of minutes on two shared cores).
pytestmark = pytest.mark.timeout(3600)


def engine_environment(home: Path, backend: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}",
            "PULUMI_HOME": str(home),
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_SKIP_CONFIRMATIONS": "true",
        }
    )
    env.pop("PULUMI_ACCESS_TOKEN", None)
    # Nothing here needs the network: anything that tries gets a refusal on loopback at once.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env[name] = "http://127.0.0.1:1"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = "127.0.0.1,localhost,::1"
    return env


def pulumi_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN_DIR / "pulumi"), "--non-interactive", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def checked(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def schema(toolchain: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("random-schema")
    env = engine_environment(work / "home", work / "backend")
    binary = BIN_DIR / "pulumi-resource-random"
    return json.loads(checked(pulumi_cli(["package", "get-schema", str(binary)], work, env)))


@dataclass(frozen=True)
class Lifecycle:
    stack_file: dict[str, Any]
    up: subprocess.CompletedProcess[str]
    outputs: dict[str, Any]
    state_text: str
    state: dict[str, Any]
    preview_again: subprocess.CompletedProcess[str]
    destroy: subprocess.CompletedProcess[str]
    state_after_destroy: dict[str, Any]

    def resource(self, typ: str) -> dict[str, Any]:
        (found,) = [r for r in self.state["deployment"]["resources"] if r["type"] == typ]
        return found


@pytest.fixture(scope="module")
def lifecycle(toolchain: None, tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    work = tmp_path_factory.mktemp("random-lifecycle")
    program = work / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(
        json.dumps(
            {
                "name": PROJECT,
                "runtime": {"name": "python", "options": {"virtualenv": sys.prefix}},
            }
        )
    )
    (program / "__main__.py").write_text(PROGRAM)
    backend = work / "backend"
    backend.mkdir()
    env = engine_environment(work / "home", backend)

    checked(pulumi_cli(["stack", "init", STACK, "--secrets-provider", "passphrase"], program, env))
    up = pulumi_cli(["up", "--yes", "--skip-preview", "--stack", STACK], program, env)
    outputs = json.loads(
        checked(pulumi_cli(["stack", "output", "--json", "--show-secrets"], program, env))
        if up.returncode == 0
        else "{}"
    )
    (state_file,) = backend.glob(f".pulumi/stacks/**/{STACK}.json")
    state_text = state_file.read_text()
    state = json.loads(checked(pulumi_cli(["stack", "export"], program, env)))
    preview_again = pulumi_cli(["preview", "--expect-no-changes"], program, env)
    destroy = pulumi_cli(["destroy", "--yes", "--skip-preview"], program, env)
    after = json.loads(checked(pulumi_cli(["stack", "export"], program, env)))
    stack_file = yaml.safe_load((program / f"Pulumi.{STACK}.yaml").read_text()) or {}
    return Lifecycle(stack_file, up, outputs, state_text, state, preview_again, destroy, after)


def sdk_resources() -> dict[str, type]:
    """The SDK's resource classes, by the type token each registers."""
    found = {}
    for _, cls in inspect.getmembers(pulumi_random, inspect.isclass):
        if issubclass(cls, pulumi.CustomResource) and not issubclass(cls, pulumi.ProviderResource):
            # The class's own module file as text: inspect.getsource(cls) walks an AST, which
            # CPython before 3.11.8 can corrupt while other threads build ASTs (gh-106905).
            source = Path(inspect.getsourcefile(cls) or "").read_text()
            (token,) = set(re.findall(r"'(random:index/\w+:\w+)'", source))
            found[token] = cls
    return found


def pulumi_names(cls: type) -> set[str]:
    """The Pulumi property names a generated SDK class declares with @pulumi.getter."""
    return {
        member.fget._pulumi_name
        for member in vars(cls).values()
        if isinstance(member, property) and hasattr(member.fget, "_pulumi_name")
    }


def test_schema_has_every_resource_the_sdk_registers(schema: dict[str, Any]) -> None:
    assert len(sdk_resources()) == 10
    assert set(schema["resources"]) == set(sdk_resources())


@pytest.mark.parametrize("token", sorted(sdk_resources()))
def test_schema_has_every_property_the_sdk_declares(schema: dict[str, Any], token: str) -> None:
    cls = sdk_resources()[token]
    resource = schema["resources"][token]
    args = getattr(pulumi_random, f"{cls.__name__}Args")
    state = getattr(sys.modules[cls.__module__], f"_{cls.__name__}State")
    assert pulumi_names(cls) <= set(resource["properties"])
    assert pulumi_names(args) <= set(resource.get("inputProperties", {}))
    assert pulumi_names(state) <= set(resource["stateInputs"]["properties"])


def test_infra_uses_no_random_resource_beyond_those_checked() -> None:
    used = set()
    for source in (REPO_ROOT / "infra").rglob("*.py"):
        used |= set(re.findall(r"\brandom\.(Random\w+)\(", source.read_text()))
    assert used == set(INFRA_USES)


@pytest.mark.parametrize("name", sorted(INFRA_USES))
def test_schema_has_what_infra_uses(schema: dict[str, Any], name: str) -> None:
    token = f"random:index/{name[0].lower()}{name[1:]}:{name}"
    resource = schema["resources"][token]
    assert INFRA_USES[name]["inputs"] <= set(resource["inputProperties"])
    assert INFRA_USES[name]["outputs"] <= set(resource["properties"])


def test_plugin_reports_the_sdks_release_tagged_with_the_upstream_commit(toolchain: None) -> None:
    """The version says what it stands for and what it is built from; neither may go stale."""
    go_mod = (REPO_ROOT / "tools" / "pulumi" / "random" / "go.mod").read_text()
    (upstream,) = re.findall(
        r"github\.com/terraform-providers/terraform-provider-random (v\S+)", go_mod
    )
    sdk = json.loads(Path(pulumi_random.__file__).with_name("pulumi-plugin.json").read_text())
    reported = subprocess.run(
        [str(BIN_DIR / "pulumi-resource-random"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    release, _, build = reported.partition("+")
    assert release == sdk["version"]
    assert build.endswith(upstream.rsplit("-", 1)[-1])


def test_schema_marks_the_password_result_secret(schema: dict[str, Any]) -> None:
    assert schema["resources"][PASSWORD_TYPE]["properties"]["result"].get("secret") is True


def test_a_stack_without_config_of_its_own_runs(lifecycle: Lifecycle) -> None:
    assert "config" not in lifecycle.stack_file
    assert lifecycle.up.returncode == 0, (lifecycle.up.stdout + lifecycle.up.stderr)[-4000:]
    assert "error:" not in lifecycle.up.stdout + lifecycle.up.stderr


def test_up_creates_a_password_of_the_asked_length_and_charset(lifecycle: Lifecycle) -> None:
    password = lifecycle.outputs["password"]
    assert len(password) == PASSWORD_LENGTH
    assert set(password) <= set(string.ascii_letters + string.digits)


def test_up_creates_an_id_of_the_asked_bytes_in_every_encoding(lifecycle: Lifecycle) -> None:
    b64_url, hex_id, dec = (lifecycle.outputs[k] for k in ("b64_url", "hex", "dec"))
    raw = bytes.fromhex(hex_id)
    assert len(raw) == ID_BYTES
    # base64url without padding: 16 bytes are 22 characters (a KRaft cluster id).
    assert len(b64_url) == 22
    assert base64.urlsafe_b64decode(b64_url + "==") == raw
    assert int(dec) == int.from_bytes(raw, "big")


def test_state_holds_the_password_only_encrypted(lifecycle: Lifecycle) -> None:
    password = lifecycle.outputs["password"]
    assert password not in lifecycle.state_text
    result = lifecycle.resource(PASSWORD_TYPE)["outputs"]["result"]
    assert isinstance(result, dict)
    assert "ciphertext" in result


def test_state_records_the_resources_from_the_real_provider(lifecycle: Lifecycle) -> None:
    ident = lifecycle.resource(ID_TYPE)
    assert ident["outputs"]["byteLength"] == ID_BYTES
    assert ident["outputs"]["hex"] == lifecycle.outputs["hex"]
    assert lifecycle.resource(PASSWORD_TYPE)["outputs"]["length"] == PASSWORD_LENGTH


def test_preview_right_after_up_plans_no_change(lifecycle: Lifecycle) -> None:
    assert lifecycle.preview_again.returncode == 0, lifecycle.preview_again.stdout[-4000:]


def test_destroy_removes_every_random_resource(lifecycle: Lifecycle) -> None:
    assert {lifecycle.resource(t)["type"] for t in (PASSWORD_TYPE, ID_TYPE)} == {
        PASSWORD_TYPE,
        ID_TYPE,
    }
    assert lifecycle.destroy.returncode == 0, lifecycle.destroy.stdout[-4000:]
    left = lifecycle.state_after_destroy["deployment"].get("resources") or []
    assert [r["type"] for r in left if r["type"].startswith("random:")] == []
