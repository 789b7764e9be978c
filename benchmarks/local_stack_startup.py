"""How long the local stack takes to get ready, and how much memory it holds.

    uv run python benchmarks/local_stack_startup.py          # warm: jars already in .cache
    uv run python benchmarks/local_stack_startup.py --cold   # also: empty cache + empty Maven repo

Prints, side by side: jar resolution cold vs. already cached (--cold); start on an empty state
dir with the JVM's full JIT (the baseline) vs. the default C1-only JIT, and a restart on existing
data: each service's time to answer and its resident memory.
Runs on free loopback ports with temporary folders, so it does not disturb a running stack.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from local_stack.artifacts import ALL_JAR_SETS, JarResolver
from local_stack.network import free_ports
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


def _settings(**overrides: object) -> LocalStackSettings:
    kafka, controller, native, storage, jmx = free_ports(5)
    return LocalStackSettings(
        kafka_port=kafka,
        kafka_controller_port=controller,
        cassandra_port=native,
        cassandra_storage_port=storage,
        cassandra_jmx_port=jmx,
        **overrides,
    )


def resolution_seconds(settings: LocalStackSettings) -> tuple[float, int]:
    resolver = JarResolver(settings)
    downloads = 0

    def count(_: str) -> None:
        nonlocal downloads
        downloads += 1

    started = time.monotonic()
    for jar_set in ALL_JAR_SETS:
        resolver.jars(jar_set, count)
    return time.monotonic() - started, downloads


def start_figures(stack: LocalStack) -> dict[str, float]:
    started = time.monotonic()
    endpoints = stack.up()
    figures = {"up() total s": time.monotonic() - started}
    figures |= {f"{name} answers after s": s for name, s in endpoints.seconds_to_answer.items()}
    for status in stack.status():
        figures[f"{status.name} RSS MiB"] = (status.rss_bytes or 0) / 2**20
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="also time a from-scratch download")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="local-stack-bench-") as scratch:
        root = Path(scratch)
        if args.cold:
            cold = _settings(cache_dir=root / "cache", maven_repo=root / "m2")
            cold_s, downloads = resolution_seconds(cold)
            cached_s, _ = resolution_seconds(cold)
            print(f"{'jar resolution':<28}{'cold (empty repo)':>20}{'cached':>12}")
            print(f"{'seconds':<28}{cold_s:>20.1f}{cached_s:>12.3f}")
            print(f"{'files downloaded':<28}{downloads:>20}{0:>12}\n")

        columns = {}
        baseline = LocalStack(
            _settings(state_dir=root / "baseline", quick_start_jit=False), stop_with_parent=True
        )
        stack = LocalStack(_settings(state_dir=root / "state"), stop_with_parent=True)
        try:
            columns["full JIT, fresh"] = start_figures(baseline)
            baseline.down()
            columns["C1 only, fresh"] = start_figures(stack)
            stack.down()
            columns["C1 only, restart"] = start_figures(stack)
        finally:
            baseline.down()
            stack.down()
        print(f"{'start (jars cached)':<28}" + "".join(f"{label:>20}" for label in columns))
        for key in columns["full JIT, fresh"]:
            print(
                f"{key:<28}"
                + "".join(f"{c.get(key, float('nan')):>20.1f}" for c in columns.values())
            )


if __name__ == "__main__":
    main()
