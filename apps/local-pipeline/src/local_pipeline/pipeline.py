"""The whole pipeline on this machine with one command (`make run`).

Kafka and Cassandra come from `LocalStack`; the fake Finnhub feed (or the real endpoint when
FINNHUB_TOKEN is set), the producer and the processor run as child processes logging to files
under the state dir; the terminal shows the live view. Ctrl-C stops everything this run started,
producer first so every trade it accepted is flushed to Kafka and acknowledged before the rest
goes down. Children run in their own sessions: the terminal's Ctrl-C reaches only this process,
which then stops them in that order rather than all at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from background_processes.log_files import log_tail
from background_processes.pid_files import terminate_when_parent_dies
from finnhub_contracts.cassandra import KEYSPACE
from finnhub_contracts.symbols import DEFAULT_SYMBOLS
from finnhub_dashboards.connection import CassandraUnreachable, connect
from finnhub_dashboards.live import run_live_view
from finnhub_dashboards.settings import DashboardSettings
from local_stack.errors import LocalStackError
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from rich.console import Console

from local_pipeline.producer_health import FeedState, metrics_url, read_feed_state

FAKE_FEED_READY = re.compile(r"listening on (ws://\S+)")


class PipelineError(Exception):
    """A child of the pipeline failed to start or died; the message says which and why."""


class PipelineSettings(BaseSettings):
    """What `make run` can be told; each field is the env var of the same name."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    finnhub_token: SecretStr | None = Field(
        default=None, description="set: the real Finnhub feed; unset: the local fake feed"
    )
    finnhub_symbols: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_SYMBOLS, description="comma-separated symbols"
    )
    fake_feed_rate: float = Field(
        default=5.0,
        gt=0,
        description="fake trades/s per symbol, on average: BTC busiest, DOGE quietest",
    )
    live_refresh_s: float = Field(default=1.0, gt=0, description="seconds between redraws")
    live_plain_every_s: float = Field(
        default=10.0, gt=0, description="output not a terminal: seconds between status lines"
    )
    cassandra_keyspace: str = Field(default=KEYSPACE)
    producer_stop_timeout_s: float = Field(default=40.0, gt=0, description="flush allowance")
    processor_stop_timeout_s: float = Field(default=90.0, gt=0, description="batch allowance")

    @field_validator("finnhub_symbols", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


@dataclass(frozen=True)
class ChildSpec:
    """One child process: its command, the environment it adds, how long it may take to stop."""

    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    stop_timeout_s: float = 30.0


def console_script(name: str) -> str:
    """A console script of this environment: next to our interpreter, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise PipelineError(f"{name} is not installed; run `make setup` (uv sync --all-packages)")
    return found


def feed_notice(token_set: bool) -> str:
    if token_set:
        return "Feed: real Finnhub (FINNHUB_TOKEN is set)"
    return "Feed: local FAKE Finnhub feed (set FINNHUB_TOKEN for real trades)"


def fake_feed_spec(symbols: Sequence[str], rate: float) -> ChildSpec:
    argv = ("finnhub-fake-feed", "--port", "0", "--rate", str(rate))
    return ChildSpec("fake-feed", (*argv, "--symbols", ",".join(symbols)), stop_timeout_s=10.0)


def producer_spec(
    kafka_bootstrap: str,
    symbols: Sequence[str],
    feed_url: str | None,
    stop_timeout_s: float,
    metrics_port: int = 0,
) -> ChildSpec:
    """The producer; FINNHUB_TOKEN reaches it through the inherited environment, never argv.

    Its /metrics is on loopback at `metrics_port` (0: any free one): the screen reads the
    feed's state there.
    """
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "FINNHUB_SYMBOLS": ",".join(symbols),
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": str(metrics_port),
    }
    if feed_url is not None:
        env["FINNHUB_WS_URL"] = feed_url
    return ChildSpec("producer", ("finnhub-producer",), env, stop_timeout_s)


def processor_spec(
    kafka_bootstrap: str,
    cassandra_host: str,
    cassandra_port: int,
    spark_jars: Sequence[Path],
    checkpoint_dir: Path,
    stop_timeout_s: float,
) -> ChildSpec:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASSANDRA_HOSTS": cassandra_host,
        "CASSANDRA_PORT": str(cassandra_port),
        "SPARK_JARS": ",".join(str(jar) for jar in spark_jars),
        "CHECKPOINT_DIR": str(checkpoint_dir),
        # Spark binds its driver to the host's address unless told; everything here stays on
        # loopback.
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    return ChildSpec("processor", ("finnhub-processor",), env, stop_timeout_s)


class Child:
    """A running child process in its own session, its output in `<log_dir>/<name>.log`."""

    def __init__(self, spec: ChildSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_file = log_dir / f"{spec.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        # Logs are appended across runs; what this run's child says starts here.
        self._log_start = self.log_file.stat().st_size if self.log_file.is_file() else 0
        argv = [console_script(self.spec.argv[0]), *self.spec.argv[1:]]
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                env={**os.environ, **self.spec.env, "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # SIGTERM (which producer and processor handle cleanly) if the orchestrator
                # dies, even by SIGKILL, so no child outlives it.
                preexec_fn=terminate_when_parent_dies,
            )

    def exit_code(self) -> int | None:
        """None while running (or never started), else the exit code."""
        return None if self._process is None else self._process.poll()

    def wait_for_log_line(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = pattern.search(self._log_since_start())
            if match:
                return match
            if self.exit_code() is not None:
                break
            time.sleep(0.1)
        raise PipelineError(
            f"{self.spec.name} did not log {pattern.pattern!r} within {timeout_s:.0f} s "
            f"(exit code {self.exit_code()}). Last lines of {self.log_file}:\n{self.tail()}"
        )

    def _log_since_start(self) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 20) -> str:
        return log_tail(self.log_file, lines)

    def stop(self) -> int | None:
        """SIGTERM, wait up to the spec's timeout, then SIGKILL; always clears the whole group.

        The group matters for the processor: pyspark's JVM is its child, and must not outlive it.
        """
        if self._process is None:
            return None
        process = self._process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.spec.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait()
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)
        return process.returncode

    def _signal_group(self, signum: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signum)

    def _group_alive(self) -> bool:
        assert self._process is not None
        try:
            os.killpg(self._process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


class Pipeline:
    """Children started in order and stopped in reverse order, also when starting fails."""

    def __init__(self, log_dir: Path, on_event: Callable[[str], None] = lambda _: None) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self._on_event = on_event

    def start(self, spec: ChildSpec) -> Child:
        child = Child(spec, self.log_dir)
        self._on_event(f"starting {spec.name} (log: {child.log_file})")
        child.start()
        self.children.append(child)
        return child

    def failed_child(self) -> Child | None:
        """The first child that has exited; in a running pipeline none should."""
        return next((child for child in self.children if child.exit_code() is not None), None)

    def stop(self) -> dict[str, int | None]:
        codes = {}
        for child in reversed(self.children):
            self._on_event(f"stopping {child.spec.name}")
            codes[child.spec.name] = child.stop()
        self.children.clear()
        return codes

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def status_line(children: Sequence[Child], feed: FeedState | None = None) -> str:
    """`fake-feed: running | processor: running | producer: running, feed reconnecting (...)`.

    The producer's process running says nothing about its feed, so its entry carries the feed
    state the producer reports; `feed state unknown` until its metrics answer.
    """
    states = []
    for child in children:
        code = child.exit_code()
        state = f"{child.spec.name}: {'running' if code is None else f'exited {code}'}"
        if child.spec.name == "producer" and code is None:
            state += f", {feed.describe() if feed is not None else 'feed state unknown'}"
        states.append(state)
    return " | ".join(states)


def _show_failure(child: Child, print_line: Callable[[str], None]) -> None:
    print_line(
        f"{child.spec.name} exited with code {child.exit_code()}. "
        f"Last lines of {child.log_file}:\n{child.tail()}"
    )


def run_pipeline(
    settings: PipelineSettings,
    print_line: Callable[[str], None] = print,
    console: Console | None = None,
) -> int:
    """Set up and start everything, show the live view until Ctrl-C, stop what we started."""
    # Rows whose newest trade is older than this are the previous run's, and marked so.
    run_started_at = datetime.now(UTC)
    token_set = settings.finnhub_token is not None
    print_line(feed_notice(token_set))
    # The keyspace the processor and the live view use is the one the local stack creates.
    stack = LocalStack(
        LocalStackSettings(keyspace=settings.cassandra_keyspace),
        on_event=lambda message: print_line(f"local-stack: {message}"),
        stop_with_parent=True,
    )
    running_before = [status.name for status in stack.status() if status.running]
    endpoints = stack.up()
    symbols = settings.finnhub_symbols
    log_dir = endpoints.state_dir / "logs" / "pipeline"
    pipeline = Pipeline(log_dir, on_event=print_line)
    exit_code = 0
    try:
        jars = stack.spark_connector_jars()
        feed_url = None
        if not token_set:
            feed = pipeline.start(fake_feed_spec(symbols, settings.fake_feed_rate))
            feed_url = feed.wait_for_log_line(FAKE_FEED_READY, 30.0).group(1)
        pipeline.start(
            processor_spec(
                endpoints.kafka_bootstrap,
                endpoints.cassandra_host,
                endpoints.cassandra_port,
                jars,
                endpoints.state_dir / "processor" / "checkpoints",
                settings.processor_stop_timeout_s,
            )
        )
        (producer_metrics_port,) = free_ports(1)
        pipeline.start(
            producer_spec(
                endpoints.kafka_bootstrap,
                symbols,
                feed_url,
                settings.producer_stop_timeout_s,
                producer_metrics_port,
            )
        )
        producer_metrics = metrics_url(producer_metrics_port)
        dashboard_settings = DashboardSettings(
            cassandra_hosts=(endpoints.cassandra_host,),
            cassandra_port=endpoints.cassandra_port,
            cassandra_keyspace=settings.cassandra_keyspace,
            finnhub_symbols=symbols,
        )
        cluster, session = connect(dashboard_settings)
        header = f"{feed_notice(token_set)}. Logs: {log_dir}. Ctrl-C stops everything."
        try:
            with contextlib.suppress(KeyboardInterrupt):
                run_live_view(
                    session,
                    settings.cassandra_keyspace,
                    symbols,
                    settings.live_refresh_s,
                    should_stop=lambda: pipeline.failed_child() is not None,
                    header=header,
                    status=lambda: status_line(
                        pipeline.children, read_feed_state(producer_metrics)
                    ),
                    console=console,
                    run_started_at=run_started_at,
                    plain_every_s=settings.live_plain_every_s,
                )
        finally:
            cluster.shutdown()
        failed = pipeline.failed_child()
        if failed is not None:
            _show_failure(failed, print_line)
            exit_code = 1
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave JVMs behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            print_line("stopping: producer first (flushes to Kafka), then the rest")
            codes = pipeline.stop()
            print_line(f"exit codes: {codes}")
            if running_before:
                print_line(f"left running, they were up before: {', '.join(running_before)}")
            else:
                print_line(f"stopped: {', '.join(stack.down()) or 'nothing'}")
        finally:
            signal.signal(signal.SIGINT, previous)
    return exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="finnhub-run",
        description="Start Kafka, Cassandra, the feed, producer and processor; show live "
        "numbers; Ctrl-C stops everything. Configured by environment variables.",
    )
    parser.parse_args(argv)
    console = Console()

    def print_line(line: str) -> None:
        # Log tails and URLs contain brackets that rich would read as markup.
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    try:
        return run_pipeline(PipelineSettings(), print_line=print_line, console=console)
    except (PipelineError, LocalStackError, CassandraUnreachable) as error:
        console.print(str(error), style="red", markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted during set-up; everything started so far is stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
