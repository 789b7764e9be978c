"""Which jars the local stack runs, and resolving them once with Maven into the project cache.

Each jar set (Kafka, Cassandra, the Spark connectors) becomes a tiny generated pom; Maven's
`dependency:copy-dependencies` copies it with its runtime dependencies into `.cache/jars/<set>`.
A marker holding the set's fingerprint makes a second run skip Maven entirely.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from finnhub_contracts.versions import (
    CASSANDRA_VERSION,
    KAFKA_VERSION,
    SCALA_BINARY_VERSION,
    SPARK_VERSION,
)

from local_stack.errors import MissingToolError, ResolutionError
from local_stack.settings import LocalStackSettings

# Same lines as pyspark ships; Kafka 4 logs through slf4j 2 -> log4j2.
LOG4J_VERSION = "2.25.4"
SLF4J_VERSION = "2.0.17"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"

MARKER_NAME = ".resolved"


@dataclass(frozen=True)
class MavenArtifact:
    group: str
    artifact: str
    version: str

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


@dataclass(frozen=True)
class JarSet:
    """A named group of artifacts resolved together into one folder."""

    name: str
    artifacts: tuple[MavenArtifact, ...]
    # For jars that join pyspark's own classpath: leave out what pyspark already ships.
    without_pyspark_jars: bool = False


KAFKA_JARS = JarSet(
    "kafka",
    (
        # Broker, controller and kafka.tools.StorageTool (storage formatting) all live in core.
        MavenArtifact("org.apache.kafka", f"kafka_{SCALA_BINARY_VERSION}", KAFKA_VERSION),
        # The admin tools (TopicCommand, ConfigCommand) the distribution's libs/ also holds: the
        # Kubernetes topics Job runs them from the same jar set in the Kafka image.
        MavenArtifact("org.apache.kafka", "kafka-tools", KAFKA_VERSION),
        # Kafka's pom leaves the logging backend to the distribution; without one it logs nothing.
        MavenArtifact("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        MavenArtifact("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        # Kafka's own pom brings slf4j-api 1.7, which cannot find an slf4j 2 binding and would
        # silence the broker; a direct dependency wins Maven's version mediation.
        MavenArtifact("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ),
)

CASSANDRA_JARS = JarSet(
    "cassandra",
    (MavenArtifact("org.apache.cassandra", "cassandra-all", CASSANDRA_VERSION),),
)

SPARK_CONNECTOR_JARS = JarSet(
    "spark",
    (
        MavenArtifact(
            "org.apache.spark", f"spark-sql-kafka-0-10_{SCALA_BINARY_VERSION}", SPARK_VERSION
        ),
        MavenArtifact("org.apache.spark", f"spark-avro_{SCALA_BINARY_VERSION}", SPARK_VERSION),
    ),
    without_pyspark_jars=True,
)

ALL_JAR_SETS = (KAFKA_JARS, CASSANDRA_JARS, SPARK_CONNECTOR_JARS)

_JAR_NAME = re.compile(r"^(?P<name>.+)-(?P<version>\d+(?:\.\d+)+[^/]*)\.jar$")
# `[INFO] Downloaded from <repo id>: <url> (<size> at <speed>)`; the speed holds a `/` too.
_DOWNLOADED = re.compile(r"Downloaded from [^:]+: (?P<url>\S+)")


def render_pom(jar_set: JarSet) -> str:
    """A pom whose only purpose is to list `jar_set` as dependencies of a throwaway project."""
    dependencies = "\n".join(
        "    <dependency>\n"
        f"      <groupId>{escape(a.group)}</groupId>\n"
        f"      <artifactId>{escape(a.artifact)}</artifactId>\n"
        f"      <version>{escape(a.version)}</version>\n"
        "    </dependency>"
        for a in jar_set.artifacts
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project>
  <modelVersion>4.0.0</modelVersion>
  <groupId>local-stack</groupId>
  <artifactId>jars-{escape(jar_set.name)}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def jar_set_fingerprint(jar_set: JarSet) -> str:
    """Changes exactly when what a resolution yields could change (not with pom cosmetics)."""
    coordinates = sorted(str(artifact) for artifact in jar_set.artifacts)
    content = f"{coordinates}|{jar_set.without_pyspark_jars}|{DEPENDENCY_PLUGIN_VERSION}"
    return hashlib.sha256(content.encode()).hexdigest()


def jar_base_name(file_name: str) -> str | None:
    """`kafka-clients-4.4.0.jar` -> `kafka-clients`; None when the name carries no version.

    The version is the last `-<digits>.<digits>...` run, so names with digits of their own
    (`spark-sql-kafka-0-10_2.13-4.2.0.jar`, `log4j-1.2-api-2.25.4.jar`) keep them.
    """
    match = _JAR_NAME.match(file_name)
    return match.group("name") if match else None


def jars_not_shipped(jars: Iterable[Path], shipped: Iterable[str]) -> list[Path]:
    """`jars` minus those whose artifact is already among the `shipped` jar file names.

    A same-named jar of another version is dropped too: two versions of one library on a
    classpath is exactly the conflict this avoids, and the shipped one is the one Spark tests.
    """
    shipped_names = {name for name in (jar_base_name(f) for f in shipped) if name}
    return sorted(j for j in jars if jar_base_name(j.name) not in shipped_names)


def downloaded_file(maven_line: str) -> str | None:
    """The file name a Maven `Downloaded from` line reports, else None (any other line)."""
    match = _DOWNLOADED.search(maven_line)
    if match is None:
        return None
    return match.group("url").rstrip("/").rsplit("/", 1)[-1] or None


def pyspark_shipped_jars() -> list[str] | None:
    """File names in the installed pyspark's jars/ folder, or None when pyspark is not installed."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        return None
    jars_dir = Path(next(iter(spec.submodule_search_locations))) / "jars"
    return sorted(p.name for p in jars_dir.glob("*.jar")) if jars_dir.is_dir() else None


ProgressCallback = Callable[[str], None]


class JarResolver:
    """Resolves jar sets with Maven into `<cache>/jars/<set>`, once per set fingerprint."""

    def __init__(self, settings: LocalStackSettings) -> None:
        self._settings = settings

    def jar_dir(self, jar_set: JarSet) -> Path:
        return self._settings.resolved_cache_dir / "jars" / jar_set.name

    def is_resolved(self, jar_set: JarSet) -> bool:
        marker = self.jar_dir(jar_set) / MARKER_NAME
        return marker.is_file() and marker.read_text().strip() == jar_set_fingerprint(jar_set)

    def jars(self, jar_set: JarSet, progress: ProgressCallback | None = None) -> list[Path]:
        """The jar files of `jar_set`, calling Maven first only if they are not resolved yet."""
        if not self.is_resolved(jar_set):
            lock_file = self.jar_dir(jar_set).with_suffix(".lock")
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            # Several test sessions or `up`s may start at once on a fresh clone: one resolves,
            # the others wait for it and then find the marker.
            with lock_file.open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not self.is_resolved(jar_set):
                    self.resolve(jar_set, progress)
        return sorted(self.jar_dir(jar_set).glob("*.jar"))

    def resolve(self, jar_set: JarSet, progress: ProgressCallback | None = None) -> None:
        mvn = shutil.which(self._settings.mvn)
        if mvn is None:
            raise MissingToolError(
                f"Maven ({self._settings.mvn!r}) is not on PATH; it resolves the Kafka, Cassandra "
                "and Spark connector jars. Install it (Debian: apt-get install maven) or point "
                "LOCAL_STACK_MVN at it."
            )
        out_dir = self.jar_dir(jar_set)
        work_dir = self._settings.resolved_cache_dir / "poms" / jar_set.name
        work_dir.mkdir(parents=True, exist_ok=True)
        pom = render_pom(jar_set)
        (work_dir / "pom.xml").write_text(pom)
        # A fresh folder each time: jars of an older resolution must not linger on a classpath.
        staging = out_dir.with_name(out_dir.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-B",
            "-f",
            str(work_dir / "pom.xml"),
            f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        if self._settings.maven_repo is not None:
            command.append(f"-Dmaven.repo.local={self._settings.maven_repo}")
        tail = _run_maven(command, progress)
        if tail is not None:
            artifacts = ", ".join(str(a) for a in jar_set.artifacts)
            raise ResolutionError(
                f"Maven could not resolve the {jar_set.name} jars ({artifacts}). Check that the "
                "Maven registry is reachable and the versions exist. Maven said:\n" + tail
            )
        if jar_set.without_pyspark_jars:
            _drop_jars_pyspark_ships(staging)
        if _same_jars(staging, out_dir):
            # Running JVMs read their jars lazily from out_dir: leave identical files in place.
            shutil.rmtree(staging)
        else:
            shutil.rmtree(out_dir, ignore_errors=True)
            staging.rename(out_dir)
        (out_dir / MARKER_NAME).write_text(jar_set_fingerprint(jar_set) + "\n")


def _run_maven(command: list[str], progress: ProgressCallback | None) -> str | None:
    """Runs Maven, reporting each download; returns None on success, else its last error lines."""
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for raw_line in process.stdout:
            line = raw_line.rstrip()
            lines.append(line)
            downloaded = downloaded_file(line)
            if progress is not None and downloaded is not None:
                progress(downloaded)
    if process.returncode == 0:
        return None
    errors = [line for line in lines if line.startswith("[ERROR]")] or lines
    return "\n".join(errors[-15:])


def _same_jars(a: Path, b: Path) -> bool:
    def listing(folder: Path) -> set[tuple[str, int]]:
        return {(jar.name, jar.stat().st_size) for jar in folder.glob("*.jar")}

    return b.is_dir() and listing(a) == listing(b)


def _drop_jars_pyspark_ships(folder: Path) -> None:
    shipped = pyspark_shipped_jars()
    if shipped is None:
        return
    keep = set(jars_not_shipped(folder.glob("*.jar"), shipped))
    for jar in folder.glob("*.jar"):
        if jar not in keep:
            jar.unlink()


def spark_connector_jars(
    settings: LocalStackSettings | None = None, progress: ProgressCallback | None = None
) -> list[Path]:
    """Jars for `spark.jars`: the Kafka and Avro connectors plus what pyspark does not ship."""
    return JarResolver(settings or LocalStackSettings()).jars(SPARK_CONNECTOR_JARS, progress)
