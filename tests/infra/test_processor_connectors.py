"""The processor image's connectors: local-stack's connector jar set (the one `make run` and the
tests run with), resolved for real, is what the image's context copies into pyspark's jars, and
no library lands on the Spark classpath twice."""

from __future__ import annotations

import re
from pathlib import Path

import pyspark
import pytest
from finnhub_contracts.versions import SPARK_VERSION
from finnhub_images.catalog import PROCESSOR
from local_stack.artifacts import JarResolver
from local_stack.errors import LocalStackError
from local_stack.settings import LocalStackSettings


def artifact(name: str) -> str:
    return re.sub(r"-[0-9]+\.[0-9]+[^-]*(-[A-Za-z0-9]+)?\.jar$", "", name)


@pytest.fixture(scope="module")
def connector_jars() -> set[str]:
    resolver = JarResolver(LocalStackSettings())
    (jar_set,) = PROCESSOR.jar_sets.values()
    try:
        resolver.jars(jar_set)
    except LocalStackError as error:
        pytest.fail(f"the processor's connector jar set did not resolve: {error}", pytrace=False)
    return {path.name for path in resolver.jar_dir(jar_set).glob("*.jar")}


def test_the_connectors_match_the_locked_pyspark_and_bring_their_dependencies(
    connector_jars: set[str],
) -> None:
    assert pyspark.__version__ == SPARK_VERSION
    assert {
        f"spark-sql-kafka-0-10_2.13-{SPARK_VERSION}.jar",
        f"spark-avro_2.13-{SPARK_VERSION}.jar",
    } <= connector_jars
    assert {"spark-token-provider-kafka-0-10_2.13", "kafka-clients", "commons-pool2"} <= {
        artifact(name) for name in connector_jars
    }


def test_no_library_lands_on_the_spark_classpath_twice(connector_jars: set[str]) -> None:
    spark = {artifact(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    assert not {artifact(name) for name in connector_jars} & spark
