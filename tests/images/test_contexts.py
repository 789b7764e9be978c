"""Build contexts made for real from the lock and local-stack's jar sets: what each image will
hold, that an unchanged context is not made twice, and that a failure names the image."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from finnhub_contracts.avro import trades_schema
from finnhub_contracts.versions import CQLSH_VERSION
from finnhub_images.catalog import CASSANDRA, PROCESSOR, PRODUCER, ImageSpec
from finnhub_images.contexts import (
    ContextBuilder,
    ContextError,
    python_platform,
    split_requirements,
)
from local_stack.artifacts import JarResolver
from local_stack.settings import LocalStackSettings

ROOT = Path(__file__).resolve().parents[2]


def locked(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


def builder(tmp_path: Path, **extra: object) -> ContextBuilder:
    return ContextBuilder(
        repo_root=ROOT,
        contexts_dir=tmp_path / "contexts",
        jar_resolver=JarResolver(LocalStackSettings(project_root=ROOT)),
        **extra,  # type: ignore[arg-type]
    )


def test_requirements_split_into_locked_pins_and_workspace_members() -> None:
    pins, members = split_requirements("# via x\n./apps/producer\nfastavro==1.13.1\n\n")
    assert pins == ["fastavro==1.13.1"]
    assert members == ["./apps/producer"]


def test_platform_is_the_images_glibc_and_an_unknown_one_is_refused() -> None:
    assert python_platform("linux/amd64") == "x86_64-manylinux_2_36"
    with pytest.raises(ContextError, match="linux/s390x"):
        python_platform("linux/s390x")


def test_producer_context_holds_the_locked_packages_apart_from_the_app(tmp_path: Path) -> None:
    context = builder(tmp_path).prepare(PRODUCER)
    site = context / "site-packages"
    assert (site / f"confluent_kafka-{locked('confluent-kafka')}.dist-info").is_dir()
    assert (site / f"fastavro-{locked('fastavro')}.dist-info").is_dir()
    assert (context / "app" / "finnhub_producer" / "cli.py").is_file()
    # The shared log format is a workspace member, installed with the app (data file included).
    assert (context / "app" / "finnhub_logs" / "log4j2.properties").is_file()
    assert not (site / "finnhub_producer").exists()
    # Its image carries no test server and no server library, and no host console scripts.
    assert not (site / "finnhub_fake_feed").exists() and not (site / "websockets").exists()
    assert not (site / "bin").exists() and not (context / "app" / "bin").exists()


def test_an_unchanged_context_is_not_made_again(tmp_path: Path) -> None:
    build = builder(tmp_path)
    context = build.prepare(PRODUCER)
    marker = (context / ".prepared").stat().st_mtime_ns
    build.prepare(PRODUCER)
    assert (context / ".prepared").stat().st_mtime_ns == marker


def test_cassandra_context_holds_its_jar_set_and_cqlsh_at_the_locked_versions(
    tmp_path: Path,
) -> None:
    context = builder(tmp_path).prepare(CASSANDRA)
    assert (context / "jars" / f"cassandra-all-{CASSANDRA.version}.jar").is_file()
    cqlsh = context / "cqlsh"
    assert (cqlsh / f"cqlsh-{CQLSH_VERSION}.dist-info").is_dir()
    assert (cqlsh / f"cassandra_driver-{locked('cassandra-driver')}.dist-info").is_dir()
    assert (context / "entry" / "cqlsh").stat().st_mode & 0o111


def test_a_failing_uv_names_the_image(tmp_path: Path) -> None:
    broken = ImageSpec("broken", "apps/producer/Dockerfile", python_package="no-such-member")
    with pytest.raises(ContextError, match="broken image's context"):
        builder(tmp_path).prepare(broken)


@pytest.mark.parametrize("image", [PRODUCER, PROCESSOR], ids=lambda i: i.name)
def test_app_contexts_carry_the_contracts_package_with_its_data_files(
    tmp_path: Path, image: ImageSpec
) -> None:
    # The schema and the CQL are package data, read with importlib.resources: a wheel that
    # left them out would only fail when the pod starts.
    contracts = builder(tmp_path).prepare(image) / "app" / "finnhub_contracts"
    for data in ("trades.avsc", "cassandra-setup.cql", "writer_schemas/original_message.avsc"):
        assert (contracts / data).is_file(), data


def test_the_contracts_in_a_context_are_the_repositorys(tmp_path: Path) -> None:
    app = builder(tmp_path).prepare(PRODUCER) / "app"
    code = "from finnhub_contracts.avro import trades_schema; print(trades_schema(), end='')"
    shipped = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(app)!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shipped == trades_schema()
