"""Jar sets: the generated poms, the once-only Maven run, and the jars pyspark already ships."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from local_stack.artifacts import (
    CASSANDRA_JARS,
    KAFKA_JARS,
    MARKER_NAME,
    SPARK_CONNECTOR_JARS,
    JarResolver,
    downloaded_file,
    jar_base_name,
    jar_set_fingerprint,
    jars_not_shipped,
    render_pom,
)
from local_stack.errors import MissingToolError, ResolutionError
from local_stack.settings import LocalStackSettings
from local_stack.stack import LocalStack


def test_pom_lists_every_artifact_of_the_set_as_a_dependency() -> None:
    root = ET.fromstring(render_pom(SPARK_CONNECTOR_JARS))
    coordinates = [
        ":".join(d.findtext(tag) for tag in ("groupId", "artifactId", "version"))
        for d in root.iter("dependency")
    ]
    assert coordinates == [
        "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0",
        "org.apache.spark:spark-avro_2.13:4.2.0",
    ]


def test_kafka_and_cassandra_sets_pin_the_chosen_major_lines() -> None:
    assert any(
        a.artifact == "kafka_2.13" and a.version.startswith("4.") for a in KAFKA_JARS.artifacts
    )
    assert any(
        a.artifact == "cassandra-all" and a.version.startswith("5.0.")
        for a in CASSANDRA_JARS.artifacts
    )


@pytest.mark.parametrize(
    ("file_name", "name"),
    [
        ("kafka-clients-4.4.0.jar", "kafka-clients"),
        ("spark-sql-kafka-0-10_2.13-4.2.0.jar", "spark-sql-kafka-0-10_2.13"),
        ("log4j-1.2-api-2.25.4.jar", "log4j-1.2-api"),
        ("zstd-jni-1.5.7-7.jar", "zstd-jni"),
        ("orc-core-2.3.0-shaded-protobuf.jar", "orc-core"),
        ("netty-all-4.1.130.Final.jar", "netty-all"),
        ("no-version.jar", None),
    ],
)
def test_jar_base_name_strips_only_the_version(file_name: str, name: str | None) -> None:
    assert jar_base_name(file_name) == name


def test_jars_pyspark_ships_are_dropped_whatever_their_version() -> None:
    resolved = [
        Path(n) for n in ("kafka-clients-3.9.2.jar", "lz4-java-1.8.0.jar", "zstd-jni-1.5.6-1.jar")
    ]
    shipped = ["lz4-java-1.11.0.jar", "zstd-jni-1.5.7-7.jar", "commons-pool-1.5.4.jar"]
    assert jars_not_shipped(resolved, shipped) == [Path("kafka-clients-3.9.2.jar")]


def test_resolved_set_is_reused_without_calling_maven(tmp_path: Path) -> None:
    # A Maven that cannot exist: any attempt to run it would raise MissingToolError.
    settings = LocalStackSettings(cache_dir=tmp_path, mvn="no-such-maven-here")
    resolver = JarResolver(settings)
    jar_dir = resolver.jar_dir(KAFKA_JARS)
    jar_dir.mkdir(parents=True)
    (jar_dir / "kafka_2.13-4.4.0.jar").write_bytes(b"")
    (jar_dir / MARKER_NAME).write_text(jar_set_fingerprint(KAFKA_JARS))
    assert resolver.jars(KAFKA_JARS) == [jar_dir / "kafka_2.13-4.4.0.jar"]


def test_a_marker_from_another_jar_set_means_resolve_again(tmp_path: Path) -> None:
    settings = LocalStackSettings(cache_dir=tmp_path, mvn="no-such-maven-here")
    resolver = JarResolver(settings)
    jar_dir = resolver.jar_dir(KAFKA_JARS)
    jar_dir.mkdir(parents=True)
    (jar_dir / MARKER_NAME).write_text(jar_set_fingerprint(CASSANDRA_JARS))
    assert not resolver.is_resolved(KAFKA_JARS)
    with pytest.raises(MissingToolError, match="Maven"):
        resolver.jars(KAFKA_JARS)


def test_missing_maven_error_says_what_and_how_to_fix(tmp_path: Path) -> None:
    resolver = JarResolver(LocalStackSettings(cache_dir=tmp_path, mvn="no-such-maven-here"))
    with pytest.raises(MissingToolError) as raised:
        resolver.resolve(SPARK_CONNECTOR_JARS)
    assert "no-such-maven-here" in str(raised.value)
    assert "LOCAL_STACK_MVN" in str(raised.value)


def _fake_maven(tmp_path: Path, body: str) -> str:
    """An executable standing in for mvn: it sees the same arguments the real one gets."""
    script = tmp_path / "fake-mvn"
    script.write_text(
        "#!/bin/sh\n"
        'for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#*=}";; esac; done\n'
        + body
    )
    script.chmod(0o755)
    return str(script)


def test_resolving_an_unchanged_set_again_keeps_the_jar_files_in_place(tmp_path: Path) -> None:
    mvn = _fake_maven(
        tmp_path,
        'mkdir -p "$out"; echo v1 > "$out/kafka-clients-4.4.0.jar"\n'
        'echo "[INFO] Downloaded from central: https://example.invalid/x/kafka-clients-4.4.0.jar"\n',
    )
    resolver = JarResolver(LocalStackSettings(cache_dir=tmp_path / "cache", mvn=mvn))
    downloads: list[str] = []
    jars = resolver.jars(KAFKA_JARS, downloads.append)
    assert [jar.name for jar in jars] == ["kafka-clients-4.4.0.jar"]
    assert downloads == ["kafka-clients-4.4.0.jar"]
    inode = jars[0].stat().st_ino
    (resolver.jar_dir(KAFKA_JARS) / MARKER_NAME).write_text("from an older version\n")

    assert resolver.jars(KAFKA_JARS) == jars
    # The same file, not a copy: a JVM already running from this folder keeps working.
    assert jars[0].stat().st_ino == inode
    assert resolver.is_resolved(KAFKA_JARS)


def test_maven_failure_reports_the_artifacts_and_mavens_errors(tmp_path: Path) -> None:
    mvn = _fake_maven(
        tmp_path,
        'echo "[INFO] Scanning for projects..."\n'
        'echo "[ERROR] Could not resolve dependencies: org.apache.kafka:kafka_2.13 not found"\n'
        "exit 1\n",
    )
    resolver = JarResolver(LocalStackSettings(cache_dir=tmp_path / "cache", mvn=mvn))
    with pytest.raises(ResolutionError) as raised:
        resolver.jars(KAFKA_JARS)
    message = str(raised.value)
    assert "org.apache.kafka:kafka_2.13:4.4.0" in message
    assert "[ERROR] Could not resolve dependencies" in message
    assert "Scanning" not in message
    assert not resolver.is_resolved(KAFKA_JARS)


# Lines as Maven 3.8 prints them in batch mode (`mvn -B`), only the registry's host replaced.
MAVEN_DOWNLOAD_LINES = [
    (
        "[INFO] Downloaded from central: https://example.invalid/maven2/org/apache/kafka/"
        "kafka_2.13/4.4.0/kafka_2.13-4.4.0.jar (6.8 MB at 12 MB/s)",
        "kafka_2.13-4.4.0.jar",
    ),
    (
        "[INFO] Downloaded from central: https://example.invalid/maven2/org/apache/maven/plugins/"
        "maven-plugins/43/maven-plugins-43.pom (7.5 kB at 339 kB/s)",
        "maven-plugins-43.pom",
    ),
    (
        "[INFO] Downloading from central: https://example.invalid/maven2/org/slf4j/slf4j-api/"
        "2.0.17/slf4j-api-2.0.17.jar",
        None,
    ),
    ("[INFO] BUILD SUCCESS", None),
]


@pytest.mark.parametrize(("line", "file_name"), MAVEN_DOWNLOAD_LINES)
def test_download_progress_names_the_file_not_the_transfer_speed(
    line: str, file_name: str | None
) -> None:
    assert downloaded_file(line) == file_name


def _spark_stack(tmp_path: Path, maven_body: str, events: list[str]) -> LocalStack:
    tmp_path.mkdir()
    settings = LocalStackSettings(
        cache_dir=tmp_path / "cache", mvn=_fake_maven(tmp_path, maven_body)
    )
    return LocalStack(settings, on_event=events.append)


def test_first_run_hint_appears_only_when_maven_downloads_something(tmp_path: Path) -> None:
    copies_from_a_warm_repository = 'mkdir -p "$out"; echo x > "$out/spark-avro_2.13-4.2.0.jar"\n'
    events: list[str] = []
    _spark_stack(tmp_path / "warm", copies_from_a_warm_repository, events).spark_connector_jars()
    assert not [event for event in events if "first run" in event or "download" in event]

    downloads = copies_from_a_warm_repository + "".join(
        f'echo "{line}"\n' for line, _ in MAVEN_DOWNLOAD_LINES[:2]
    )
    events.clear()
    _spark_stack(tmp_path / "cold", downloads, events).spark_connector_jars()
    hints = [event for event in events if "first run" in event]
    assert len(hints) == 1
    assert events.index(hints[0]) < events.index("downloaded kafka_2.13-4.4.0.jar")
    assert "downloaded maven-plugins-43.pom" in events
