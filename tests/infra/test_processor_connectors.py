"""The processor image's connector step, run for real without Docker: Maven resolves the
Dockerfile's own pom, then the Dockerfile's own jar loop merges the result into a Spark jars
folder laid out like the locked pyspark's. Proves the coordinates resolve and that no library
lands on the classpath twice."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pyspark
import pytest
from infra_harness import REPO_ROOT

DOCKERFILE = REPO_ROOT / "apps" / "processor" / "Dockerfile"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not on PATH; the processor connector check needs Java and Maven"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


def dockerfile_pom() -> str:
    match = re.search(r"^COPY <<'POM' pom.xml\n(.*?)^POM$", DOCKERFILE.read_text(), re.S | re.M)
    assert match, "no pom heredoc in the processor Dockerfile"
    return match.group(1)


def dockerfile_jar_loop() -> str:
    text = DOCKERFILE.read_text()
    match = re.search(
        r"^RUN (for jar in /tmp/connectors/\*\.jar; do.*?done) \\$", text, re.S | re.M
    )
    assert match, "no connector loop in the processor Dockerfile"
    return match.group(1).replace("\\\n", "\n")


def spark_jar_names() -> list[str]:
    return sorted(p.name for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar"))


def artifact(name: str) -> str:
    return re.sub(r"-[0-9]+\.[0-9]+[^-]*(-[A-Za-z0-9]+)?\.jar$", "", name)


@pytest.fixture(scope="module")
def merged_jars(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    mvn = need("mvn")
    need("java")
    work = tmp_path_factory.mktemp("connectors")
    (work / "pom.xml").write_text(dockerfile_pom())
    out = work / "connectors"
    result = subprocess.run(
        [mvn, "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={out}"],
        cwd=work, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spark_home = work / "spark"
    (spark_home / "jars").mkdir(parents=True)
    before = set(spark_jar_names())
    for name in before:
        (spark_home / "jars" / name).touch()
    loop = dockerfile_jar_loop().replace("/tmp/connectors", str(out))
    subprocess.run(
        ["bash", "-euc", loop], env={**os.environ, "SPARK_HOME": str(spark_home)},
        check=True, timeout=60,
    )  # fmt: skip
    after = {p.name for p in (spark_home / "jars").glob("*.jar")}
    return before, after - before


def test_the_dockerfiles_connectors_resolve_and_are_added(
    merged_jars: tuple[set[str], set[str]],
) -> None:
    _, added = merged_jars
    added_artifacts = {artifact(name) for name in added}
    assert {
        "spark-sql-kafka-0-10_2.13",
        "spark-avro_2.13",
        "spark-token-provider-kafka-0-10_2.13",
        "kafka-clients",
        "commons-pool2",
    } <= added_artifacts


def test_no_library_lands_on_the_spark_classpath_twice(
    merged_jars: tuple[set[str], set[str]],
) -> None:
    before, added = merged_jars
    spark_artifacts = {artifact(name) for name in before}
    assert not {artifact(name) for name in added} & spark_artifacts
