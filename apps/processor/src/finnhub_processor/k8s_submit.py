"""`python -m finnhub_processor.k8s_submit [spark-submit args]`: the submitter's entry.

Runs in the submitter Deployment's one pod (infra/finnhub_infra/components/spark_submit.py).
It waits until no driver of the application may still run (see `driver_pods`), renders the
driver's pod template owned by its own pod, then replaces itself with spark-submit in cluster
mode, which watches the driver until it ends. Whatever ends spark-submit (the driver failed or
was deleted), the container exits and Kubernetes starts it again (a Deployment's pods restart
always), so a lost driver comes back after the same wait; deleting or rolling the submitter
garbage-collects its driver, and Spark's driver owns its executors.

Logs one JSON line per state change on stderr; no secret passes through here (credentials
reach the driver as Secret references in the args).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
from finnhub_logs import configure_logging, use_json_jvm_logs
from pydantic import ValidationError

from finnhub_processor.driver_pods import (
    SubmitterIdentity,
    describe,
    driver_pods,
    driver_selector,
    driver_template,
    finished_drivers_to_delete,
    live_drivers,
    spark_submit_argv,
    watching_own_driver,
)
from finnhub_processor.k8s_api import ApiError, InClusterApi
from finnhub_processor.settings import SubmitterSettings

# Exists while a driver of this submitter runs or is being submitted: the readiness probe.
READY_MARKER = "driver-owned"
RENDERED_TEMPLATE = "driver-pod-template.json"

log = structlog.get_logger("finnhub_processor.k8s_submit")


def settings_problems(error: ValidationError) -> str:
    """A settings error as one line naming each environment variable."""
    return "; ".join(
        f"{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
    )


def identity_of(settings: SubmitterSettings) -> SubmitterIdentity:
    return SubmitterIdentity(
        pod_name=settings.pod_name,
        pod_uid=settings.pod_uid,
        namespace=settings.pod_namespace,
        app_name=settings.submit_app_name,
    )


def set_ready(work_dir: Path, ready: bool) -> None:
    marker = work_dir / READY_MARKER
    if ready:
        marker.touch()
    else:
        marker.unlink(missing_ok=True)


def wait_until_no_live_driver(
    api: InClusterApi,
    identity: SubmitterIdentity,
    work_dir: Path,
    poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Returns once no driver of the application may still run; logs each change of what it
    waits for. Deletes this submitter's finished drivers but the newest on the way."""
    selector = driver_selector(identity.app_name)
    waiting_for: list[dict[str, Any]] | None = None
    while True:
        pods = driver_pods(api.list_pods(identity.namespace, selector))
        for name in finished_drivers_to_delete(pods, identity.pod_uid):
            api.delete_pod(identity.namespace, name)
            log.info("finished_driver_deleted", driver=name)
        live = live_drivers(pods)
        set_ready(work_dir, watching_own_driver(live, identity.pod_uid))
        if not live:
            return
        described = describe(live, identity.pod_uid)
        if described != waiting_for:
            log.info("waiting_for_driver", drivers=described)
            waiting_for = described
        sleep(poll_s)


def render_driver_template(settings: SubmitterSettings, identity: SubmitterIdentity) -> Path:
    base = json.loads(Path(settings.submit_driver_template).read_text())
    rendered = Path(settings.submit_work_dir) / RENDERED_TEMPLATE
    rendered.write_text(json.dumps(driver_template(base, identity)))
    return rendered


def stop_on_signal(signum: int, frame: FrameType | None) -> None:
    log.info("submitter_stopping", signal=signum)
    raise SystemExit(0)


def main(args: list[str] | None = None, api: InClusterApi | None = None) -> int:
    """Waits, renders, then execs spark-submit; returns only on an error (its exit code).
    `api` defaults to the in-cluster API server as the pod's service account."""
    # JSON even at a terminal (`kubectl exec`): what it writes is read by log shippers.
    configure_logging(json_lines=True)
    # spark-submit's JVM, which this process execs, logs the same events.
    use_json_jvm_logs()
    args = sys.argv[1:] if args is None else args
    try:
        settings = SubmitterSettings()
    except ValidationError as error:
        log.error("invalid_configuration", problems=settings_problems(error))
        return 2
    signal.signal(signal.SIGTERM, stop_on_signal)
    identity = identity_of(settings)
    work_dir = Path(settings.submit_work_dir)
    api = api or InClusterApi()
    log.info(
        "submitter_started",
        pod=identity.pod_name,
        namespace=identity.namespace,
        app=identity.app_name,
    )
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        argv = spark_submit_argv(
            str(Path(settings.spark_home) / "bin" / "spark-submit"),
            identity,
            str(work_dir / RENDERED_TEMPLATE),
            str(api.ca_file),
            str(api.token_file),
            args,
        )
        wait_until_no_live_driver(api, identity, work_dir, settings.submit_poll_seconds)
        render_driver_template(settings, identity)
    except ApiError as error:
        log.error("kubernetes_api_failed", error=str(error))
        return 1
    except (OSError, ValueError) as error:
        log.error("submission_not_possible", error=str(error))
        return 2
    set_ready(work_dir, True)
    log.info("submitting_driver", template=str(work_dir / RENDERED_TEMPLATE))
    try:
        os.execv(argv[0], argv)
    except OSError as error:
        set_ready(work_dir, False)
        log.error("spark_submit_not_started", path=argv[0], error=str(error))
    return 127


if __name__ == "__main__":
    sys.exit(main())
