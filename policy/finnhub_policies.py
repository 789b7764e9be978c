"""The pipeline's security rules as Pulumi policies (what `infra/` promises, enforced on preview).

Each rule is a pure function `(resource type, inputs) -> violation messages`, so tests call it
with plain manifests; `POLICIES` wraps each in a pulumi-policy `ResourceValidationPolicy`, and
`NAMESPACE_DEFAULT_DENY` checks the stack as a whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from itertools import pairwise
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

Props = Mapping[str, Any]
Rule = Callable[[str, Props], list[str]]

K8S = "kubernetes:"
POD_TEMPLATE_KINDS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
LONG_RUNNING = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
}
SPARK_APPLICATION = "kubernetes:sparkoperator.k8s.io/v1beta2:SparkApplication"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|CREDENTIAL", re.IGNORECASE)


def _get(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def pod_spec(resource_type: str, props: Props) -> Mapping[str, Any] | None:
    path = POD_TEMPLATE_KINDS.get(resource_type)
    return _get(props, *path) if path else None


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from spec.get(key) or []


def _where(props: Props) -> str:
    return str(_get(props, "metadata", "name") or "?")


def require_resources(resource_type: str, props: Props) -> list[str]:
    """Every container requests and limits CPU and memory."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = []
    for c in _containers(spec):
        for part in ("requests", "limits"):
            got = _get(c, "resources", part) or {}
            missing = {"cpu", "memory"} - set(got)
            if missing:
                problems.append(f"{_where(props)}/{c.get('name')}: no {part} for {sorted(missing)}")
    return problems


def require_probes(resource_type: str, props: Props) -> list[str]:
    """Long-running containers have liveness and readiness probes."""
    spec = pod_spec(resource_type, props)
    if spec is None or resource_type not in LONG_RUNNING:
        return []
    return [
        f"{_where(props)}/{c.get('name')}: no {probe}"
        for c in spec.get("containers") or []
        for probe in ("livenessProbe", "readinessProbe")
        if probe not in c
    ]


def _security_problems(
    where: str, pod_context: Mapping[str, Any] | None, container_context: Mapping[str, Any] | None
) -> list[str]:
    pod_context = pod_context or {}
    container_context = container_context or {}
    problems = []
    non_root = container_context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if container_context.get("runAsUser", pod_context.get("runAsUser")) == 0:
        problems.append(f"{where}: runs as uid 0")
    if container_context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if container_context.get("privileged"):
        problems.append(f"{where}: privileged")
    if "ALL" not in (_get(container_context, "capabilities", "drop") or []):
        problems.append(f"{where}: capabilities are not dropped (drop: [ALL])")
    return problems


def require_non_root(resource_type: str, props: Props) -> list[str]:
    """Pods run as non-root with no privilege escalation and no capabilities."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = []
    for c in _containers(spec):
        where = f"{_where(props)}/{c.get('name')}"
        problems += _security_problems(where, spec.get("securityContext"), c.get("securityContext"))
    return problems


def forbid_host_access(resource_type: str, props: Props) -> list[str]:
    """No host network, PID, IPC, hostPath volumes or host ports."""
    spec = pod_spec(resource_type, props)
    if spec is None:
        return []
    problems = [
        f"{_where(props)}: {flag}"
        for flag in ("hostNetwork", "hostPID", "hostIPC")
        if spec.get(flag)
    ]
    problems += [
        f"{_where(props)}: hostPath volume {v.get('name')}"
        for v in spec.get("volumes") or []
        if "hostPath" in v
    ]
    problems += [
        f"{_where(props)}/{c.get('name')}: hostPort {p.get('hostPort')}"
        for c in _containers(spec)
        for p in c.get("ports") or []
        if p.get("hostPort")
    ]
    return problems


def _image_problem(where: str, image: Any) -> str | None:
    if not isinstance(image, str) or not image:
        return None
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return f"{where}: image {image} is not pinned to a version tag or digest"
    return None


def require_pinned_images(resource_type: str, props: Props) -> list[str]:
    """Images carry a version tag or digest (never implicit or `latest`), never pull `Never`."""
    problems: list[str] = []
    spec = pod_spec(resource_type, props)
    if spec is not None:
        for c in _containers(spec):
            where = f"{_where(props)}/{c.get('name')}"
            problem = _image_problem(where, c.get("image"))
            if problem:
                problems.append(problem)
            if c.get("imagePullPolicy") == "Never":
                problems.append(f"{where}: imagePullPolicy Never; images come from a registry")
    if resource_type == SPARK_APPLICATION:
        problem = _image_problem(_where(props), _get(props, "spec", "image"))
        if problem:
            problems.append(problem)
    return problems


def forbid_plain_secrets(resource_type: str, props: Props) -> list[str]:
    """Credentials reach pods only through Secrets: no literal value in a secret-named env var,
    no secret-named key in a ConfigMap."""
    problems = []
    envs: list[tuple[str, Mapping[str, Any]]] = []
    spec = pod_spec(resource_type, props)
    if spec is not None:
        envs += [(str(c.get("name")), e) for c in _containers(spec) for e in c.get("env") or []]
    if resource_type == SPARK_APPLICATION:
        for role in ("driver", "executor"):
            envs += [(role, e) for e in _get(props, "spec", role, "env") or []]
    for where, env in envs:
        if SECRET_NAME.search(str(env.get("name", ""))) and "value" in env:
            problems.append(f"{_where(props)}/{where}: {env['name']} has a literal value")
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for key in props.get("data") or {}:
            if SECRET_NAME.search(key):
                problems.append(f"{_where(props)}: ConfigMap key {key} looks like a secret")
    return problems


def require_recommended_labels(resource_type: str, props: Props) -> list[str]:
    """Workloads and their pod templates carry the app.kubernetes.io/* recommended labels."""
    if resource_type not in POD_TEMPLATE_KINDS and resource_type != SPARK_APPLICATION:
        return []
    problems = []
    labels = _get(props, "metadata", "labels") or {}
    missing = [key for key in RECOMMENDED_LABELS if key not in labels]
    if missing:
        problems.append(f"{_where(props)}: missing labels {missing}")
    path = POD_TEMPLATE_KINDS.get(resource_type)
    if path and len(path) > 1:
        template_labels = _get(props, *path[:-1], "metadata", "labels") or {}
        missing = [key for key in RECOMMENDED_LABELS if key not in template_labels]
        if missing:
            problems.append(f"{_where(props)}: pod template misses labels {missing}")
    return problems


def spark_application_is_bounded_and_non_root(resource_type: str, props: Props) -> list[str]:
    """Spark driver and executors: sized, non-root, no escalation (the operator builds their
    pods, so this is checked on the SparkApplication itself)."""
    if resource_type != SPARK_APPLICATION:
        return []
    problems = []
    for role in ("driver", "executor"):
        part = _get(props, "spec", role) or {}
        for key in ("cores", "coreLimit", "memory"):
            if not part.get(key):
                problems.append(f"{_where(props)}/{role}: no {key}")
        problems += _security_problems(
            f"{_where(props)}/{role}", part.get("podSecurityContext"), part.get("securityContext")
        )
    return problems


def _cluster_submission_confs(args: list[Any]) -> dict[str, str] | None:
    """The `--conf`s of a `spark-submit --deploy-mode cluster` onto Kubernetes, else None."""
    words = [str(arg) for arg in args]
    pairs = list(pairwise(words))
    if ("--deploy-mode", "cluster") not in pairs or not any(w.startswith("k8s://") for w in words):
        return None
    return dict(value.split("=", 1) for flag, value in pairs if flag == "--conf" and "=" in value)


def _pod_template(text: Any) -> Mapping[str, Any] | None:
    try:
        parsed = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, Mapping) and parsed.get("kind") == "Pod" else None


def spark_submission_is_bounded_and_non_root(resource_type: str, props: Props) -> list[str]:
    """Spark's own scheduler builds driver and executor pods from spark-submit's confs and pod
    templates: the confs size both, the templates (JSON Pods in ConfigMaps) are non-root."""
    problems = []
    spec = pod_spec(resource_type, props)
    for c in _containers(spec) if spec is not None else []:
        confs = _cluster_submission_confs(c.get("args") or [])
        if confs is None:
            continue
        for role in ("driver", "executor"):
            for key in (
                f"spark.{role}.cores",
                f"spark.kubernetes.{role}.limit.cores",
                f"spark.{role}.memory",
            ):
                if not confs.get(key):
                    problems.append(f"{_where(props)}/{c.get('name')}: spark-submit sets no {key}")
    if resource_type == "kubernetes:core/v1:ConfigMap":
        for key, text in (props.get("data") or {}).items():
            pod = _pod_template(text)
            if pod is None:
                continue
            pod_spec_ = pod.get("spec") or {}
            for c in _containers(pod_spec_):
                problems += _security_problems(
                    f"{_where(props)}/{key}/{c.get('name')}",
                    pod_spec_.get("securityContext"),
                    c.get("securityContext"),
                )
    return problems


def require_pinned_charts(resource_type: str, props: Props) -> list[str]:
    """Helm charts are installed at an explicit version (the original's was unpinned)."""
    if resource_type != HELM_RELEASE:
        return []
    if not props.get("version"):
        return [f"{props.get('name') or props.get('chart')}: Helm chart version not pinned"]
    return []


RULES: dict[str, Rule] = {
    "workload-resources": require_resources,
    "workload-probes": require_probes,
    "workload-non-root": require_non_root,
    "workload-no-host-access": forbid_host_access,
    "images-pinned": require_pinned_images,
    "secrets-not-plain": forbid_plain_secrets,
    "recommended-labels": require_recommended_labels,
    "spark-application-bounded-non-root": spark_application_is_bounded_and_non_root,
    "spark-submission-bounded-non-root": spark_submission_is_bounded_and_non_root,
    "helm-chart-pinned": require_pinned_charts,
}


def is_left_out(props: Props) -> bool:
    """A resource the run leaves out (`--exclude`, `--target`) and that does not exist yet still
    reaches the policies, with no inputs at all: the engine skips its provider's Check and hands on
    the old inputs it does not have. It will not be created, so there is nothing to judge; every
    resource the run does plan has inputs (a Kubernetes object at least its apiVersion and kind, a
    Helm release its chart)."""
    return len(props) == 0


def _as_policy(name: str, rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not args.resource_type.startswith(K8S) or is_left_out(args.props):
            return
        for message in rule(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=(rule.__doc__ or name).strip().splitlines()[0],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def namespaces_without_default_deny(resources: list[tuple[str, Props]]) -> list[str]:
    """Namespaces that get workloads but no NetworkPolicy selecting all pods both ways."""
    with_workloads = {
        _get(props, "metadata", "namespace")
        for typ, props in resources
        if typ in POD_TEMPLATE_KINDS or typ == SPARK_APPLICATION
    }
    denied = set()
    for typ, props in resources:
        if typ != NETWORK_POLICY:
            continue
        spec = props.get("spec") or {}
        if (
            spec.get("podSelector") == {}
            and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            denied.add(_get(props, "metadata", "namespace"))
    return sorted(str(ns) for ns in with_workloads - denied if ns is not None)


def _validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = [(r.resource_type, r.props) for r in args.resources]
    for namespace in namespaces_without_default_deny(resources):
        report_violation(f"namespace {namespace} has workloads but no default-deny policy", None)


POLICIES: list[ResourceValidationPolicy] = [_as_policy(name, rule) for name, rule in RULES.items()]
NAMESPACE_DEFAULT_DENY = StackValidationPolicy(
    name="namespace-default-deny",
    description="Every namespace with workloads has a default-deny NetworkPolicy.",
    validate=_validate_stack,
    enforcement_level=EnforcementLevel.MANDATORY,
)
