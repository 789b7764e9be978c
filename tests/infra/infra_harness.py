"""Run the Pulumi program (or one component) under Pulumi's mocks and keep what it registered.

No engine, no cluster: `pulumi.runtime.set_mocks` answers every resource registration and every
invoke in-process. The mocks record inputs exactly as the engine would receive them, so a
Kubernetes resource's inputs *are* the manifest the provider would send; `Rendered.manifests`
rebuilds those for offline schema validation.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

# Every component the program composes: the mocks and the real engine's plan must both show them.
COMPONENT_TYPES = {
    "finnhub:infra:AppImages",
    "finnhub:infra:KafkaStack",
    "finnhub:infra:CassandraStack",
    "finnhub:infra:SparkOperatorStack",
    "finnhub:infra:GrafanaStack",
    "finnhub:infra:ProducerDeployment",
    "finnhub:infra:NetworkPolicies",
}
# With `spark.runner: submit` Spark's own scheduler replaces the operator.
SUBMIT_COMPONENT_TYPES = (COMPONENT_TYPES - {"finnhub:infra:SparkOperatorStack"}) | {
    "finnhub:infra:SparkSubmitStack"
}
# The local stack: Spark's own scheduler, the in-cluster fake feed, no Grafana.
LOCAL_COMPONENT_TYPES = (SUBMIT_COMPONENT_TYPES - {"finnhub:infra:GrafanaStack"}) | {
    "finnhub:infra:FakeFeed"
}


REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = "finnhub-pipeline"
# Pulumi's wire marker of a secret value, as the mocks receive it.
SECRET_SIG = "4dabf18193072939515e22adb298388d"
TF_OUTPUTS = {"namespace": "finnhub", "registry_url": "registry.example.test:5000"}
FAKE_DIGEST = "sha256:" + "ab" * 32

# What the processor's runners (spark_operator.py, spark_submit.py) take from the other
# components, for rendering one alone; the image is a digest reference as the program passes.
PROCESSOR_IMAGE = "registry.test/finnhub-processor@sha256:" + "1" * 64


def processor_wiring(config: Any) -> dict[str, Any]:
    """Keyword arguments of a runner's Args with namespace `pipeline` and `config`."""
    return {
        "namespace": "pipeline",
        "config": config,
        "storage_class": "standard",
        "checkpoint_access_mode": "ReadWriteOnce",
        "processor_image": PROCESSOR_IMAGE,
        "kafka_bootstrap_servers": "kafka:9092",
        "kafka_topic": "market",
        "kafka_dlq_topic": "market.dlq",
        "cassandra_hosts": "cassandra",
        "cassandra_port": 9042,
        "cassandra_keyspace": "market",
        "cassandra_credentials_secret": "cassandra-credentials",
    }


# Kubernetes resource types that are not plain manifests (Pulumi-level objects).
NOT_MANIFESTS = ("kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes")


@dataclass(frozen=True)
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


@dataclass
class Rendered:
    """Everything one mocked run registered and invoked."""

    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # URN of each resource's parent, and the output names each component registered.
    parents: dict[str, str] = field(default_factory=dict)
    registered_outputs: dict[str, set[str]] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, got {len(matches)}"
        return matches[0]

    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object as the provider would apply it, secrets unwrapped."""
        out = []
        for r in self.resources:
            if not r.typ.startswith("kubernetes:") or r.typ in NOT_MANIFESTS:
                continue
            out.append(unwrap_secrets(r.inputs))
        return out

    def manifest(self, kind: str, name: str) -> dict[str, Any]:
        found = [m for m in self.manifests() if m["kind"] == kind and m["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
        return found[0]


def unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) is not None and "value" in value:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    # The wire format carries every number as a double; manifests want their integers back.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, plus what real providers compute (digests, passwords, ids)."""

    def __init__(self, rendered: Rendered, tf_outputs: dict[str, Any]) -> None:
        self.rendered = rendered
        self.tf_outputs = tf_outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.rendered.resources.append(
            Registered(args.typ, args.name, dict(args.inputs), args.provider)
        )
        outputs = dict(args.inputs)
        if args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = f"{args.inputs['imageName'].rsplit(':', 1)[0]}@{FAKE_DIGEST}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"generated-{args.name}"
        elif args.typ == "random:index/randomId:RandomId":
            outputs["b64Url"] = "MkU4NTdCM0YxQjRBNDdCMA"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.rendered.calls.append((args.token, dict(args.args)))
        if args.token.startswith("terraform:state:"):
            return {"outputs": self.tf_outputs}
        raise AssertionError(f"unexpected invoke {args.token}")


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """The mocks' engine, also noting the parent of every resource and each component's
    `register_outputs`, which `Mocks.new_resource` does not see."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.rendered = mocks.rendered

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.rendered.parents[response.urn] = request.parent
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = pulumi.runtime.rpc.deserialize_properties(request.outputs)
        self.rendered.registered_outputs[request.urn] = set(outputs)
        return super().RegisterResourceOutputs(request)


def stack_config(
    stack: str, secrets: dict[str, str], overrides: dict[str, dict[str, Any]] | None = None
) -> tuple[dict[str, str], list[str]]:
    """A stack file's config as the engine hands it to the program (values JSON-encoded);
    `overrides` are merged into the named sections, as if the stack file said them."""
    raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    for section, values in (overrides or {}).items():
        key = f"{PROJECT}:{section}"
        raw[key] = {**raw.get(key, {}), **values}
    config = {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()
    }
    secret_keys = []
    for key, value in secrets.items():
        config[f"{PROJECT}:{key}"] = value
        secret_keys.append(f"{PROJECT}:{key}")
    return config, secret_keys


def run_mocked(
    body: Callable[[], Any],
    config: dict[str, str] | None = None,
    secret_keys: list[str] | None = None,
    tf_outputs: dict[str, Any] | None = None,
    stack: str = "test",
) -> Rendered:
    """Run `body` (which creates resources) under fresh mocks; wait for every registration."""
    rendered = Rendered()
    mocks = RecordingMocks(rendered, TF_OUTPUTS if tf_outputs is None else tf_outputs)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(mocks)
    )
    pulumi.runtime.set_all_config(config or {}, secret_keys or [])

    @pulumi.runtime.test
    def run() -> Any:
        return body()

    run()
    return rendered


def run_program(
    stack: str,
    tf_outputs: dict[str, Any] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Rendered:
    config, secret_keys = stack_config(stack, {"finnhubToken": "test-finnhub-token"}, overrides)

    def program() -> None:
        # What the engine runs for `main: infra/`: the folder, i.e. its __main__.py.
        runpy.run_path(str(REPO_ROOT / "infra"), run_name="__main__")

    return run_mocked(program, config, secret_keys, tf_outputs, stack=stack)
