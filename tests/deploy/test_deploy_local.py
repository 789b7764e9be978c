"""The real deployment: `deploy_local.py` (what `make deploy-local` runs) brings the whole
pipeline up in pods with the real Pulumi engine and providers, on a cluster of its own.

Tests run in file order on one deployment: converge, plan nothing more, carry no secret in the
clear, then go away completely.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import WhiteListRoundRobinPolicy
from deploy_harness import (
    NAMESPACE,
    Deployment,
    PortForward,
    cassandra_credentials,
    fake_feed_sent,
    wait_until,
)
from finnhub_dashboards.panel_data import fetch_panel
from finnhub_dashboards.queries import Panel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from expected_windows import WINDOW_MS, expected_windows

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(3600)]

# What a Job leaves behind is a pod that Succeeded; everything else must be Ready.
WORKLOADS = ("Deployment", "StatefulSet")


def _fail_with_log(result, what: str) -> None:
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    pytest.fail(f"{what} exited {result.returncode}:\n{tail}")


@pytest.fixture(scope="module")
def deployed(deployment: Deployment) -> Deployment:
    result = deployment.deploy("up", label="up-cold")
    if result.returncode != 0:
        _fail_with_log(result, "deploy_local.py up")
    return deployment


def test_up_from_an_empty_stack_converges_with_every_workload_ready(deployed: Deployment) -> None:
    for item in deployed.objects("deployments,statefulsets"):
        name = f"{item['kind']}/{item['metadata']['name']}"
        wanted = item["spec"].get("replicas", 1)
        assert item["status"].get("readyReplicas", 0) == wanted, name
    pods = deployed.objects("pods")
    assert pods, "no pod at all"
    for pod in pods:
        phase = pod["status"]["phase"]
        ready = all(c.get("ready") for c in pod["status"].get("containerStatuses", []))
        assert phase == "Succeeded" or (phase == "Running" and ready), (
            pod["metadata"]["name"],
            phase,
        )
    names = {pod["metadata"]["name"].rsplit("-", 2)[0] for pod in pods}
    for part in ("kafka", "cassandra", "finnhub-producer", "finnhub-fake-feed"):
        assert any(name.startswith(part) for name in names), (part, names)


def test_the_policy_pack_judged_the_real_run_and_passed(deployed: Deployment) -> None:
    log = (deployed.log_dir / "up-cold.log").read_text()
    assert "Policy Packs run:" in log, log[-2000:]
    assert "finnhub-security" in log.split("Policy Packs run:", 1)[1]
    assert "[mandatory]" not in log


def test_images_are_deployed_by_the_digests_that_were_built(deployed: Deployment) -> None:
    refs = set(deployed.references().values())
    images = {
        container["image"]
        for pod in deployed.objects("pods")
        for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    }
    assert images and images <= refs, images - refs
    assert all("@sha256:" in image for image in images)


def test_a_preview_right_after_up_plans_no_change(deployed: Deployment) -> None:
    result = deployed.deploy("preview", "--expect-no-changes", label="preview-after-up")
    if result.returncode != 0:
        _fail_with_log(result, "pulumi preview --expect-no-changes")


def test_a_second_up_rebuilds_the_same_images_and_changes_nothing(deployed: Deployment) -> None:
    before = deployed.references()
    result = deployed.deploy("up", "--expect-no-changes", label="up-warm")
    if result.returncode != 0:
        _fail_with_log(result, "a second deploy_local.py up --expect-no-changes")
    assert deployed.references() == before


def _scan(text: str, secrets: list[str], where: str) -> None:
    leaked = [s[:4] + "..." for s in secrets if s in text]
    assert not leaked, f"{where} holds secrets in the clear: {leaked}"


def test_no_secret_in_any_pod_spec_configmap_or_workload(deployed: Deployment) -> None:
    secrets = [deployed.token, *deployed.secret_values()]
    assert deployed.token in deployed.secret_values(), "the token did not reach its Secret"
    kinds = "pods,deployments,statefulsets,jobs,configmaps,services,serviceaccounts"
    _scan(json.dumps(deployed.objects(kinds)), secrets, "the namespace's objects")


def test_no_secret_in_any_log_line(deployed: Deployment) -> None:
    secrets = [deployed.token, *deployed.secret_values()]
    logs = []
    for pod in deployed.objects("pods"):
        for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            logs.append(
                deployed.kubectl(
                    "-n",
                    NAMESPACE,
                    "logs",
                    pod["metadata"]["name"],
                    "-c",
                    container["name"],
                    check=False,
                )
            )
    text = "\n".join(logs)
    assert len(text) > 1000, "too few log lines to prove anything"
    _scan(text, secrets, "the pods' logs")


def test_no_secret_in_the_pulumi_state_in_plaintext(deployed: Deployment) -> None:
    state = deployed.pulumi_state.read_text()
    assert '"ciphertext"' in state or "secure" in state, "no encrypted value in the state at all"
    _scan(state, [deployed.token, *deployed.secret_values()], "the Pulumi state")


def test_no_secret_in_any_image_layer(deployed: Deployment, tmp_path: Path) -> None:
    secrets = [deployed.token, *deployed.secret_values()]
    for name, ref in deployed.references().items():
        archive = tmp_path / f"{name}.tar"
        saved = deployed.docker("save", "-o", str(archive), ref)
        assert saved.returncode == 0, saved.stderr.decode()[-500:]
        with tarfile.open(archive) as outer:
            for member in outer.getmembers():
                if not member.isfile():
                    continue
                data = outer.extractfile(member).read()  # type: ignore[union-attr]
                for secret in secrets:
                    assert secret.encode() not in data, f"{name}: {member.name} holds a secret"
        archive.unlink()


KEYSPACE = "market"
# Trades newer than this may still be on their way (Spark's batch, the window's watermark).
SETTLE_MS = 30_000
ARRIVAL_TIMEOUT_S = 600.0


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _session(deployed: Deployment, port: int) -> Any:
    user, password = cassandra_credentials(deployed)
    cluster = Cluster(
        contact_points=["127.0.0.1"],
        port=port,
        protocol_version=5,
        auth_provider=PlainTextAuthProvider(user, password),
        # Only the forwarded loopback port: the node's own (pod) address is never dialled.
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=WhiteListRoundRobinPolicy(["127.0.0.1"]), request_timeout=30
            )
        },
        connect_timeout=15,
    )
    return cluster, cluster.connect()


def _complete_windows(
    sent: list[dict[str, Any]], since_ms: int | None = None
) -> tuple[list[dict[str, Any]], int, int]:
    """The sent trades of whole windows only: from the first window boundary after the oldest
    recorded trade (or `since_ms`) to the last boundary older than SETTLE_MS."""
    times = [trade["t"] for trade in sent]
    lo = (max(min(times), since_ms or 0) // WINDOW_MS + 1) * WINDOW_MS
    hi = (max(times) - SETTLE_MS) // WINDOW_MS * WINDOW_MS
    assert hi - lo >= WINDOW_MS, f"too short a span of recorded trades ({lo}..{hi})"
    return [t for t in sent if lo <= t["t"] < hi], lo, hi


def _range(lo: int, hi: int) -> tuple[datetime, datetime]:
    """The panel queries' bounds are exclusive (`> $__timeFrom AND < $__timeTo`): [lo, hi) is
    (lo - 1 ms, hi)."""
    return _at(lo - 1), _at(hi)


def _in_gap(at: datetime, gap: tuple[int, int] | None, margin_ms: int = 0) -> bool:
    return gap is not None and gap[0] - margin_ms <= at.timestamp() * 1000 <= gap[1]


def _check_exactly_once(
    deployed: Deployment,
    since_ms: int | None = None,
    gap: tuple[int, int] | None = None,
    earlier: list[dict[str, Any]] | None = None,
) -> dict[str, int]:
    """Cassandra holds every trade the feed sent in whole windows since `since_ms` exactly once,
    and those windows exactly as computed here; within `gap` (a roll's cut, in ms) a trade may
    be missing, never extra or twice. `earlier`: what a feed pod that has since been replaced
    had recorded. Read with the dashboard panels' own queries."""
    sent = [*(earlier or []), *fake_feed_sent(deployed)]
    chosen, lo, hi = _complete_windows(sent, since_ms)
    symbols = sorted({t["s"] for t in chosen})
    expected = {
        Panel.PRICE: Counter((t["s"], t["p"], _at(t["t"])) for t in chosen),
        Panel.VOLUME: Counter((t["s"], t["v"], _at(t["t"])) for t in chosen),
    }
    column = {Panel.PRICE: "price", Panel.VOLUME: "volume"}
    with PortForward(deployed, "pod/cassandra-0", 9042) as forward:
        cluster, session = _session(deployed, forward.port)
        try:

            def stored(panel: Panel) -> Counter[tuple[Any, ...]]:
                rows = fetch_panel(session, KEYSPACE, panel, symbols, *_range(lo, hi))
                return Counter((r["symbol"], r[column[panel]], r["trade_timestamp"]) for r in rows)

            def arrived() -> bool:
                rows, want = stored(Panel.PRICE), expected[Panel.PRICE]
                may_miss = sum(n for key, n in want.items() if _in_gap(key[2], gap))
                return sum((rows & want).values()) >= sum(want.values()) - may_miss

            wait_until(arrived, ARRIVAL_TIMEOUT_S, f"{len(chosen)} trades in Cassandra")
            missing_in_gap = 0
            for panel, want in expected.items():
                rows = stored(panel)
                extra = rows - want
                assert not extra, f"{panel}: rows nobody sent, or twice: {list(extra)[:5]}"
                missing = want - rows
                outside = [key for key in missing if not _in_gap(key[2], gap)]
                assert not outside, f"{panel}: sent trades missing: {outside[:5]}"
                missing_in_gap = sum(missing.values())

            windows = {
                key: window
                for key, window in expected_windows(chosen, WINDOW_MS).items()
                if not _in_gap(key[1], gap, margin_ms=WINDOW_MS)
            }

            def candles() -> dict[tuple[str, datetime], dict[str, Any]]:
                rows = fetch_panel(session, KEYSPACE, Panel.CANDLES, symbols, *_range(lo, hi))
                return {(r["symbol"], r["window_start"]): r for r in rows}

            wait_until(
                lambda: all(
                    candles().get(key, {}).get("trade_count") == window["trade_count"]
                    for key, window in windows.items()
                ),
                ARRIVAL_TIMEOUT_S,
                f"{len(windows)} windows complete in Cassandra",
            )
            stored_windows = candles()
            for key, window in windows.items():
                row = stored_windows[key]
                assert (row["open"], row["high"], row["low"], row["close"]) == (
                    window["open"],
                    window["high"],
                    window["low"],
                    window["close"],
                ), key
                assert row["volume"] == pytest.approx(window["volume"], rel=1e-9), key
                assert row["vwap"] == pytest.approx(window["vwap"], rel=1e-9), key
            return {
                "trades": len(chosen),
                "windows": len(windows),
                "missing_in_gap": missing_in_gap,
            }
        finally:
            cluster.shutdown()


def test_trades_sent_in_the_cluster_arrive_in_cassandra_exactly_once(
    deployed: Deployment,
) -> None:
    summary = _check_exactly_once(deployed)
    assert summary["trades"] > 300 and summary["windows"] >= 4, summary


def _pod(deployed: Deployment, selector: str) -> dict[str, Any]:
    pods = [
        pod
        for pod in json.loads(
            deployed.kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json")
        )["items"]
        if pod["status"]["phase"] == "Running" and "deletionTimestamp" not in pod["metadata"]
    ]
    assert len(pods) == 1, f"{len(pods)} running pods match {selector}"
    return pods[0]


def _ready(pod: dict[str, Any]) -> bool:
    statuses = pod["status"].get("containerStatuses", [])
    return bool(statuses) and all(c.get("ready") for c in statuses)


def _replaced_and_ready(deployed: Deployment, selector: str, old_uid: str) -> bool:
    pod = _pod(deployed, selector)
    return pod["metadata"]["uid"] != old_uid and _ready(pod)


PRODUCER = "app.kubernetes.io/name=finnhub-producer"
FEED = "app.kubernetes.io/name=finnhub-fake-feed"
DRIVER = "spark-role=driver"
ROLL_SYMBOLS = (
    "BINANCE:BTCUSDT",
    "BINANCE:ETHUSDT",
    "BINANCE:XRPUSDT",
    "BINANCE:DOGEUSDT",
    "BINANCE:SOLUSDT",
)


def _changed_processor_image(deployed: Deployment) -> str:
    """The processor image with one label more, pushed: a new digest, the same program."""
    refs = deployed.references()
    base = refs["processor"]
    repository = base.split("@", 1)[0]
    tag = f"{repository}:roll-test"
    dockerfile = f"FROM {base}\nLABEL finnhub.test/roll=1\n".encode()
    built = subprocess.run(
        [
            "docker",
            "-H",
            f"unix://{deployed.cluster_state / 'docker/docker.sock'}",
            "build",
            "--network",
            "none",
            "-t",
            tag,
            "-",
        ],
        input=dockerfile,
        capture_output=True,
        env={**deployed.env, "DOCKER_BUILDKIT": "0"},
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr.decode()[-1000:]
    assert deployed.docker("push", tag).returncode == 0
    inspect = deployed.docker("inspect", "--format", "{{json .RepoDigests}}", tag)
    digest = next(d for d in json.loads(inspect.stdout) if d.startswith(f"{repository}@"))
    (deployed.state_dir / "image-references.json").write_text(
        json.dumps({**refs, "processor": digest}, indent=2)
    )
    return digest


def test_a_config_change_rolls_the_producer_and_a_new_image_the_processor(
    deployed: Deployment,
) -> None:
    producer_before = _pod(deployed, PRODUCER)
    driver_before = _pod(deployed, DRIVER)
    feed_before = _pod(deployed, FEED)
    image = _changed_processor_image(deployed)
    started_ms = int(time.time() * 1000)
    symbols = [f"producer.symbols[{i}]={symbol}" for i, symbol in enumerate(ROLL_SYMBOLS)]
    flags = [arg for item in symbols for arg in ("-c", item)]
    result = deployed.deploy("up", "--skip-images", "--config-path", *flags, label="up-roll")
    if result.returncode != 0:
        _fail_with_log(result, "deploy_local.py up with a new symbol and processor image")
    wait_until(
        lambda: _replaced_and_ready(deployed, PRODUCER, producer_before["metadata"]["uid"]),
        300,
        "a new producer pod",
    )
    wait_until(
        lambda: (
            _pod(deployed, DRIVER)["spec"]["containers"][0]["image"] == image
            and _ready(_pod(deployed, DRIVER))
        ),
        600,
        "a driver on the new processor image",
    )
    ended_ms = int(time.time() * 1000)
    producer = _pod(deployed, PRODUCER)
    env = {e["name"]: e.get("value") for e in producer["spec"]["containers"][0]["env"]}
    assert "BINANCE:SOLUSDT" in (env.get("FINNHUB_SYMBOLS") or ""), env
    assert _pod(deployed, DRIVER)["metadata"]["uid"] != driver_before["metadata"]["uid"]
    # What the producer subscribes to is no reason to restart the stand-in for Finnhub.
    assert _pod(deployed, FEED)["metadata"]["uid"] == feed_before["metadata"]["uid"]
    # The producer's cut may lose what the feed sent it while it stopped, never more; the
    # processor's restart loses nothing (Kafka keeps it, the checkpoint resumes).
    summary = _check_exactly_once(
        deployed,
        since_ms=started_ms - 60_000,
        gap=(started_ms, ended_ms),
    )
    assert summary["trades"] > 300, summary


@pytest.mark.parametrize(
    "selector",
    [
        "statefulset.kubernetes.io/pod-name=kafka-0",
        "statefulset.kubernetes.io/pod-name=cassandra-0",
        DRIVER,
    ],
    ids=["kafka", "cassandra", "driver"],
)
def test_a_deleted_pod_comes_back_and_nothing_is_lost_or_duplicated(
    deployed: Deployment, selector: str
) -> None:
    before = _pod(deployed, selector)
    deleted_ms = int(time.time() * 1000)
    deployed.kubectl("-n", NAMESPACE, "delete", "pod", before["metadata"]["name"], "--wait=false")
    wait_until(
        lambda: _replaced_and_ready(deployed, selector, before["metadata"]["uid"]),
        600,
        f"{before['metadata']['name']} back and ready",
    )
    # Whole windows from a minute before the delete to well after its return, no gap allowed.
    summary = _check_exactly_once(deployed, since_ms=deleted_ms - 60_000)
    assert summary["trades"] > 300, summary


def test_destroy_leaves_the_namespace_empty(deployed: Deployment) -> None:
    result = deployed.deploy("destroy", label="destroy")
    if result.returncode != 0:
        _fail_with_log(result, "deploy_local.py destroy")
    deployed.destroyed = True
    kinds = (
        "deployments,statefulsets,jobs,pods,services,configmaps,secrets,"
        "persistentvolumeclaims,serviceaccounts,roles,rolebindings,networkpolicies"
    )
    left = [
        f"{item['kind']}/{item['metadata']['name']}"
        for item in deployed.objects(kinds)
        # What Kubernetes itself puts in every namespace.
        if not re.fullmatch(
            r"ServiceAccount/default|ConfigMap/kube-root-ca\.crt",
            f"{item['kind']}/{item['metadata']['name']}",
        )
    ]
    assert left == []
