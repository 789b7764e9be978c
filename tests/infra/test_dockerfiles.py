"""The app Dockerfiles: pinned bases, non-root, dependency layer before the code, only COPYs
from the prepared context, and the contract with the Pulumi program (entry file, ports, uids).
These read the files; tests/images builds and runs the images for real."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from finnhub_images.catalog import IMAGES
from finnhub_infra.components.fake_feed import FAKE_FEED_UID
from finnhub_infra.components.processor_workload import MAIN_APPLICATION_FILE, SPARK_UID
from finnhub_infra.config import FakeFeedConfig, ProducerConfig
from finnhub_logs import LOG4J2_PROPERTIES, LOG4J_CONFIG_VARIABLE

ROOT = Path(__file__).resolve().parents[2]
APPS = tuple(image for image in IMAGES if image.python_package)


def dockerfile(path: str) -> str:
    return (ROOT / path).read_text()


def instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if line and not line.startswith("#")]


def by_name(name: str) -> list[str]:
    return instructions(dockerfile(next(i.dockerfile for i in IMAGES if i.name == name)))


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_the_only_base_is_a_pinned_default_that_a_build_may_swap(image) -> None:
    lines = instructions(dockerfile(image.dockerfile))
    assert [line for line in lines if line.startswith("FROM ")] == ["FROM ${BASE_IMAGE}"]
    (default,) = [line for line in lines if line.startswith("ARG BASE_IMAGE=")]
    assert re.search(r":\d+\.\d+", default), default


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_nothing_is_fetched_unless_the_base_lacks_it(image) -> None:
    # The local cluster's dockerd has no network: apt may run only where the base lacks a tool,
    # and nothing else may reach out (no pip, no uv, no curl, no BuildKit-only syntax).
    text = dockerfile(image.dockerfile)
    for line in instructions(text):
        if "apt-get update" in line:
            assert "if ! command -v" in line, line
        assert not re.search(r"\b(pip|uv|curl|wget|mvn)\s+(install|sync|download|-)", line), line
        assert "--mount=" not in line and "<<" not in line, line
    assert "# syntax=" not in text


@pytest.mark.parametrize("image", APPS, ids=lambda i: i.name)
def test_dependencies_are_copied_before_the_apps_own_code(image) -> None:
    lines = instructions(dockerfile(image.dockerfile))
    deps = next(i for i, line in enumerate(lines) if line.startswith("COPY site-packages/"))
    app = next(i for i, line in enumerate(lines) if line.startswith("COPY app/"))
    assert deps < app


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_final_user_is_numeric_and_not_root(image) -> None:
    users = [
        line.split()[1]
        for line in instructions(dockerfile(image.dockerfile))
        if line.startswith("USER ")
    ]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0


def test_the_pods_run_as_the_uids_the_images_declare() -> None:
    assert f"USER {SPARK_UID}:{SPARK_UID}" in by_name("processor")
    assert f"USER {FAKE_FEED_UID}:{FAKE_FEED_UID}" in by_name("fake-feed")


def test_entry_points_and_ports_match_the_components() -> None:
    assert 'ENTRYPOINT ["python", "-m", "finnhub_producer"]' in by_name("producer")
    assert f"EXPOSE {ProducerConfig().metrics_port}" in by_name("producer")
    assert f"EXPOSE {FakeFeedConfig().port}" in by_name("fake-feed")


def test_processor_image_provides_the_spark_applications_entry_file() -> None:
    path = Path(MAIN_APPLICATION_FILE.removeprefix("local://"))
    assert f"COPY entry/ {path.parent}/" in by_name("processor")
    assert (ROOT / "apps/processor/image" / path.name).is_file()


def test_every_jvm_of_the_processor_image_logs_the_apps_json_events() -> None:
    # The app layer lands in site-packages; libs/logs's log4j2.properties goes with its package.
    (env,) = [line for line in by_name("processor") if line.startswith("ENV ")]
    site_packages = "/app/.venv/lib/python3.11/site-packages"
    assert f"COPY app/ {site_packages}/" in by_name("processor")
    relative = LOG4J2_PROPERTIES.relative_to(LOG4J2_PROPERTIES.parents[1]).as_posix()
    assert f"{LOG4J_CONFIG_VARIABLE}={site_packages}/{relative}" in env.split()


def test_no_secret_is_baked_into_an_image() -> None:
    for image in IMAGES:
        for line in instructions(dockerfile(image.dockerfile)):
            if line.startswith(("ENV ", "ARG ")):
                assert not re.search(r"(?i)token|password|secret", line), line


def test_processor_entry_file_runs_the_processors_main() -> None:
    # The entry file the image runs; a bad setting makes main() exit 2 at once.
    result = subprocess.run(
        [sys.executable, str(ROOT / "apps/processor/image/processor_main.py")],
        env={**os.environ, "CASSANDRA_PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "finnhub-processor: invalid configuration" in result.stderr


# A release number (4.2.0, 3.11.13) or a Scala suffix (_2.13): pins the contracts hold.
VERSION_LITERAL = re.compile(r"\b\d+\.\d+\.\d+\b|_\d\.\d{2}\b")


def version_literals(text: str) -> list[str]:
    """Instructions that write a version out, other than the swappable base's pinned default."""
    return [
        line
        for line in instructions(text)
        if not line.startswith("ARG BASE_IMAGE=") and VERSION_LITERAL.search(line)
    ]


def build_arg_names(text: str) -> dict[str, str | None]:
    args: dict[str, str | None] = {}
    for line in instructions(text):
        if line.startswith("ARG "):
            key, _, default = line.removeprefix("ARG ").partition("=")
            args[key] = default or None
    return args


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_no_dockerfile_writes_a_version_out(image) -> None:
    # Versions come in as build args from finnhub_contracts.versions (finnhub_images.catalog).
    assert version_literals(dockerfile(image.dockerfile)) == []


def test_the_version_check_finds_a_written_out_version() -> None:
    run = 'RUN test -f "/opt/kafka/libs/kafka_2.13-4.4.0.jar"'
    assert version_literals(f"ARG BASE_IMAGE=debian:12.12-slim\n{run}\n") == [run]


@pytest.mark.parametrize("image", IMAGES, ids=lambda i: i.name)
def test_every_build_arg_is_declared_without_a_default_and_every_arg_is_passed(image) -> None:
    declared = build_arg_names(dockerfile(image.dockerfile))
    declared.pop("BASE_IMAGE")
    assert set(declared) == set(image.build_args), image.name
    assert all(default is None for default in declared.values()), declared


def test_the_processor_image_is_built_for_the_contracts_spark() -> None:
    from finnhub_contracts.versions import SCALA_BINARY_VERSION, SPARK_VERSION

    processor = next(i for i in IMAGES if i.name == "processor")
    assert processor.build_args == {
        "SPARK_VERSION": SPARK_VERSION,
        "SCALA_BINARY_VERSION": SCALA_BINARY_VERSION,
    }
    checks = " ".join(by_name("processor"))
    for jar in ("spark-sql-kafka-0-10", "spark-avro", "spark-core"):
        assert f"{jar}_${{SCALA_BINARY_VERSION}}-${{SPARK_VERSION}}.jar" in checks, jar
