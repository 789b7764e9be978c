"""The submitter's decisions about driver pods, as pure functions (I/O: `k8s_submit`).

At most one driver of the application may run, ever: two drivers on one checkpoint corrupt
it. The submitter labels every driver it submits with `APP_LABEL` and makes its own pod the
driver's owner, so Kubernetes deletes the driver with the submitter; before it submits, it waits
until no driver of the application may still be running, whoever owns it (a rolled
submitter's driver that is still terminating, or its own driver from before its container
restarted, which it then watches until that driver ends).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

# Put on driver pods by the submitter's template; the wait selects on it.
APP_LABEL = "finnhub.io/spark-app"
# Spark's own label telling driver from executor pods.
SPARK_ROLE_LABEL = "spark-role"
# Phases in which no container of the pod runs any more.
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})

# Spark settings the submitter sets itself; its argv must not set them too.
APP_NAME_CONF = "spark.app.name"
NAMESPACE_CONF = "spark.kubernetes.namespace"
DRIVER_TEMPLATE_CONF = "spark.kubernetes.driver.podTemplateFile"
SUBMISSION_AUTH_PREFIX = "spark.kubernetes.authenticate.submission."
OWNED_CONFS = (APP_NAME_CONF, NAMESPACE_CONF, DRIVER_TEMPLATE_CONF, SUBMISSION_AUTH_PREFIX)
OWNED_OPTIONS = ("--name",)


@dataclass(frozen=True)
class DriverPod:
    """What the submitter needs to know about one driver pod."""

    name: str
    phase: str
    owner_uids: tuple[str, ...]
    deleting: bool
    created: str

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED_PHASES


@dataclass(frozen=True)
class SubmitterIdentity:
    """The submitter's own pod (downward API) and the application it submits."""

    pod_name: str
    pod_uid: str
    namespace: str
    app_name: str


def driver_selector(app_name: str) -> str:
    """The label selector of this application's driver pods."""
    return f"{APP_LABEL}={app_name},{SPARK_ROLE_LABEL}=driver"


def driver_pods(pod_list: dict[str, Any]) -> list[DriverPod]:
    """A `PodList` from the API as `DriverPod`s."""
    pods = []
    for item in pod_list.get("items") or []:
        meta = item.get("metadata") or {}
        pods.append(
            DriverPod(
                name=str(meta.get("name", "?")),
                # No status yet: the pod was just created and may still start.
                phase=str((item.get("status") or {}).get("phase") or "Pending"),
                owner_uids=tuple(str(ref.get("uid")) for ref in meta.get("ownerReferences") or []),
                deleting=meta.get("deletionTimestamp") is not None,
                created=str(meta.get("creationTimestamp") or ""),
            )
        )
    return pods


def live_drivers(pods: list[DriverPod]) -> list[DriverPod]:
    """Drivers whose containers may still run: the ones a new driver must wait for. A pod
    being deleted counts until it is gone (its driver may still be stopping its queries)."""
    return [pod for pod in pods if not pod.finished]


def owned_by(pod: DriverPod, own_uid: str) -> bool:
    return own_uid in pod.owner_uids


def watching_own_driver(live: list[DriverPod], own_uid: str) -> bool:
    """Whether the one live driver is this submitter's: the application runs under it."""
    return len(live) == 1 and owned_by(live[0], own_uid)


def finished_drivers_to_delete(pods: list[DriverPod], own_uid: str, keep: int = 1) -> list[str]:
    """Names of this submitter's finished drivers but the newest `keep`.

    Spark leaves a finished driver pod for its logs; each container restart of the submitter
    adds one, and only deleting the submitter's pod would clean them up. Other submitters'
    drivers go with their owners.
    """
    finished = sorted(
        (pod for pod in pods if pod.finished and owned_by(pod, own_uid) and not pod.deleting),
        key=lambda pod: pod.created,
    )
    return [pod.name for pod in finished[: max(len(finished) - keep, 0)]]


def describe(pods: list[DriverPod], own_uid: str) -> list[dict[str, Any]]:
    """The drivers as a log field: name, phase, whose, whether being deleted."""
    return [
        {
            "name": pod.name,
            "phase": pod.phase,
            "owner": "this-submitter" if owned_by(pod, own_uid) else "other",
            "deleting": pod.deleting,
        }
        for pod in pods
    ]


def owner_reference(identity: SubmitterIdentity) -> dict[str, Any]:
    """The driver's reference to the submitter's pod. Not `controller` (a pod controls no
    pod) and no `blockOwnerDeletion` (that needs update rights on the submitter's own pod)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": identity.pod_name,
        "uid": identity.pod_uid,
    }


def driver_template(base: dict[str, Any], identity: SubmitterIdentity) -> dict[str, Any]:
    """The driver pod template: `base` (from the Pulumi program) plus the application label
    and the owner reference to the submitter's pod, which Spark keeps on the driver pod."""
    if base.get("kind") != "Pod" or not isinstance(base.get("spec"), dict):
        raise ValueError("the driver pod template is not a Pod manifest with a spec")
    template = copy.deepcopy(base)
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("labels", {})[APP_LABEL] = identity.app_name
    metadata["ownerReferences"] = [owner_reference(identity)]
    return template


def owned_settings_in(args: list[str]) -> list[str]:
    """The options and confs in `args` that the submitter sets itself."""
    found = [arg for arg in args if arg in OWNED_OPTIONS]
    for index, arg in enumerate(args):
        if arg == "--conf" and index + 1 < len(args):
            key = args[index + 1].split("=", 1)[0]
            if key.startswith(OWNED_CONFS):
                found.append(key)
        elif arg.startswith("--conf="):
            key = arg.removeprefix("--conf=").split("=", 1)[0]
            if key.startswith(OWNED_CONFS):
                found.append(key)
    return found


def spark_submit_argv(
    spark_submit: str,
    identity: SubmitterIdentity,
    driver_template_file: str,
    ca_file: str,
    token_file: str,
    args: list[str],
) -> list[str]:
    """spark-submit's argv: the submitter's own settings, then `args` (master, deploy mode,
    the rest of the confs, the application file), which must not set them again."""
    owned = owned_settings_in(args)
    if owned:
        raise ValueError(f"the submitter sets these itself, remove them from its args: {owned}")
    confs = {
        NAMESPACE_CONF: identity.namespace,
        DRIVER_TEMPLATE_CONF: driver_template_file,
        # spark-submit talks to the API server as the submitter's service account, like the
        # submitter itself; nothing else (a kubeconfig) is looked for.
        f"{SUBMISSION_AUTH_PREFIX}caCertFile": ca_file,
        f"{SUBMISSION_AUTH_PREFIX}oauthTokenFile": token_file,
    }
    argv = [spark_submit, "--name", identity.app_name]
    for key, value in confs.items():
        argv += ["--conf", f"{key}={value}"]
    return argv + args
