"""The `make run` orchestration's own behaviour, with plain shell children instead of services."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_pipeline.pipeline import (
    FAKE_FEED_READY,
    Child,
    ChildSpec,
    Pipeline,
    PipelineError,
    fake_feed_spec,
    feed_notice,
    processor_spec,
    producer_spec,
    status_line,
)
from local_pipeline.producer_health import FeedState


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_producer_is_pointed_at_the_fake_feed_only_when_there_is_one() -> None:
    fake = producer_spec("127.0.0.1:1", ["A"], "ws://127.0.0.1:2", 5.0)
    real = producer_spec("127.0.0.1:1", ["A"], None, 5.0)
    assert fake.env["FINNHUB_WS_URL"] == "ws://127.0.0.1:2"
    assert "FINNHUB_WS_URL" not in real.env


def test_no_spec_carries_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINNHUB_TOKEN", "s3cret-token")
    specs = [
        fake_feed_spec(["A"], 5.0),
        producer_spec("k:1", ["A"], None, 5.0),
        processor_spec("k:1", "127.0.0.1", 9042, [Path("/j/a.jar")], Path("/c"), 5.0),
    ]
    for spec in specs:
        assert "s3cret-token" not in " ".join(spec.argv) + " ".join(spec.env.values())


def test_processor_gets_jars_checkpoints_and_loopback_only() -> None:
    spec = processor_spec(
        "k:1", "127.0.0.1", 19042, [Path("/j/a.jar"), Path("/j/b.jar")], Path("/c"), 5.0
    )
    assert spec.env["SPARK_JARS"] == "/j/a.jar,/j/b.jar"
    assert spec.env["CHECKPOINT_DIR"] == "/c"
    assert spec.env["CASSANDRA_PORT"] == "19042"
    assert spec.env["SPARK_LOCAL_IP"] == "127.0.0.1"


def test_screen_says_which_feed_runs() -> None:
    assert "FAKE" in feed_notice(token_set=False)
    assert "real Finnhub" in feed_notice(token_set=True)


def test_ready_line_of_an_earlier_run_is_not_taken_for_this_one(tmp_path: Path) -> None:
    (tmp_path / "feed.log").write_text("fake Finnhub listening on ws://127.0.0.1:1111\n")
    child = Child(
        ChildSpec("feed", ("sh", "-c", "echo 'listening on ws://127.0.0.1:2222'; sleep 30")),
        tmp_path,
    )
    child.start()
    try:
        assert child.wait_for_log_line(FAKE_FEED_READY, 10.0).group(1) == "ws://127.0.0.1:2222"
    finally:
        child.stop()


def test_child_that_dies_before_ready_fails_with_its_log(tmp_path: Path) -> None:
    child = Child(ChildSpec("feed", ("sh", "-c", "echo boom; exit 3")), tmp_path)
    child.start()
    with pytest.raises(PipelineError, match="boom"):
        child.wait_for_log_line(FAKE_FEED_READY, 10.0)
    assert child.stop() == 3


def test_stop_leaves_no_grandchild_behind(tmp_path: Path) -> None:
    spec = ChildSpec("tree", ("sh", "-c", "sleep 300 & echo grandchild $!; wait"), stop_timeout_s=2)
    child = Child(spec, tmp_path)
    child.start()
    grandchild = int(child.wait_for_log_line(re.compile(r"grandchild (\d+)"), 10.0).group(1))
    assert _alive(grandchild)
    child.stop()
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_pipeline_stops_children_in_reverse_start_order(tmp_path: Path) -> None:
    events: list[str] = []
    with Pipeline(tmp_path, on_event=events.append) as pipeline:
        for name in ("feed", "processor", "producer"):
            pipeline.start(ChildSpec(name, ("sleep", "30"), stop_timeout_s=5))
        assert status_line(pipeline.children).count("running") == 3
        assert pipeline.failed_child() is None
    stops = [event for event in events if event.startswith("stopping")]
    assert stops == ["stopping producer", "stopping processor", "stopping feed"]


def test_producer_status_carries_the_feed_state_it_reports(tmp_path: Path) -> None:
    with Pipeline(tmp_path) as pipeline:
        pipeline.start(ChildSpec("processor", ("sleep", "30"), stop_timeout_s=5))
        pipeline.start(ChildSpec("producer", ("sleep", "30"), stop_timeout_s=5))
        reconnecting = FeedState("reconnecting", "connect failed: ConnectionRefusedError")
        assert status_line(pipeline.children, reconnecting) == (
            "processor: running | producer: running, feed reconnecting "
            "(connect failed: ConnectionRefusedError)"
        )
        assert status_line(pipeline.children).endswith("producer: running, feed state unknown")


def test_producer_metrics_are_on_loopback_at_the_given_port() -> None:
    spec = producer_spec("k:1", ["A"], None, 5.0, metrics_port=19108)
    assert (spec.env["METRICS_HOST"], spec.env["METRICS_PORT"]) == ("127.0.0.1", "19108")


def test_a_dead_child_is_reported_as_failed(tmp_path: Path) -> None:
    with Pipeline(tmp_path) as pipeline:
        pipeline.start(ChildSpec("ok", ("sleep", "30"), stop_timeout_s=5))
        dead = pipeline.start(ChildSpec("dead", ("sh", "-c", "exit 4")))
        deadline = time.monotonic() + 5
        while pipeline.failed_child() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.failed_child() is dead
        assert "dead: exited 4" in status_line(pipeline.children)


def test_children_do_not_outlive_a_killed_orchestrator(tmp_path: Path) -> None:
    orchestrator = (
        "import os, pathlib, sys\n"
        "from local_pipeline.pipeline import Child, ChildSpec\n"
        "child = Child(ChildSpec('sleeper', ('sleep', '300')), pathlib.Path(sys.argv[1]))\n"
        "child.start()\n"
        "print(child.pid, flush=True)\n"
        "os._exit(0)  # no cleanup at all, as after SIGKILL\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", orchestrator, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    pid = int(result.stdout.strip())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
