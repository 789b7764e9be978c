"""Everything the local stack can be told, read once from the environment (prefix LOCAL_STACK_)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from finnhub_contracts.cassandra import KEYSPACE, check_keyspace
from finnhub_contracts.environment import unknown_variables, variable_names
from finnhub_contracts.kafka import TOPICS
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def find_project_root(start: Path | None = None) -> Path:
    """The uv workspace root: the nearest folder upwards holding both pyproject.toml and uv.lock.

    The stack's cache and state live in the project, not in the installed package, so a clone
    keeps its own downloads and data next to it.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "uv.lock").is_file():
            return folder
    package_dir = Path(__file__).resolve()
    for folder in package_dir.parents:
        if (folder / "pyproject.toml").is_file() and (folder / "uv.lock").is_file():
            return folder
    return here


class LocalStackSettings(BaseSettings):
    """Ports, folders and sizes of the local Kafka and Cassandra; each has an env override."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_STACK_", extra="ignore")

    host: str = Field("127.0.0.1", description="Loopback address every service binds to.")
    kafka_port: int = Field(9092, description="Kafka broker listener (clients).")
    kafka_controller_port: int = Field(9093, description="KRaft controller listener.")
    cassandra_port: int = Field(9042, description="Cassandra native protocol (CQL) port.")
    cassandra_storage_port: int = Field(7000, description="Cassandra inter-node port.")
    cassandra_jmx_port: int = Field(7199, description="Cassandra local-only JMX port.")

    project_root: Path = Field(
        default_factory=find_project_root,
        description="Default: the folder upwards from here holding pyproject.toml and uv.lock.",
    )
    cache_dir: Path | None = Field(None, description="Resolved jars; default <project>/.cache.")
    state_dir: Path | None = Field(None, description="Data, logs, pids; default <project>/.state.")
    maven_repo: Path | None = Field(
        None, description="Maven's own download cache; default is the user's Maven repository."
    )

    quick_start_jit: bool = Field(
        True,
        description="Run both JVMs with the C1 compiler only: on 2 busy cores they answer in "
        "about half the time (benchmarks/local_stack_startup.py); peak throughput, which a "
        "local stack does not need, is lower. False = the JVM's full tiered JIT.",
    )
    kafka_heap: str = "512m"
    cassandra_heap: str = "1g"
    market_partitions: int = Field(3, ge=1, description="Partitions of topic `market`.")
    topics: tuple[str, ...] = TOPICS
    keyspace: str = Field(
        KEYSPACE, description="Keyspace the schema (finnhub_contracts.cassandra) is applied to."
    )

    start_timeout_s: float = Field(180.0, description="How long to wait for a service to answer.")
    stop_timeout_s: float = Field(30.0, description="SIGTERM grace before SIGKILL.")

    java: str = Field("java", description="Java 17+ launcher, a name on PATH or a path.")
    mvn: str = Field("mvn", description="Maven launcher, a name on PATH or a path.")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.project_root / ".cache"

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir or self.project_root / ".state"

    @field_validator("keyspace")
    @classmethod
    def _keyspace_is_plain(cls, value: str) -> str:
        return check_keyspace(value)

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"


ENV_PREFIXES = ("LOCAL_STACK_",)


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """LOCAL_STACK_* variables the stack does not read (a typo, a renamed one)."""
    return unknown_variables(environ, ENV_PREFIXES, variable_names(LocalStackSettings))
