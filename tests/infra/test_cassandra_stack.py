"""CassandraStack alone under mocks, and its schema Job script run against a fake cqlsh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from finnhub_contracts.cassandra import KEYSPACE, setup_cql
from finnhub_infra.components.cassandra import (
    CQL_READY_PROBE,
    CassandraStack,
    CassandraStackArgs,
    schema_job_script,
)
from finnhub_infra.config import CassandraConfig
from infra_harness import Rendered, run_mocked

IMAGE = "registry.test/finnhub-cassandra@sha256:" + "cd" * 32
ENV = {
    "ADMIN_USER": "finnhub_admin",
    "ADMIN_PASSWORD": "adminSecret1",
    "APP_USER": "finnhub",
    "APP_PASSWORD": "appSecret2",
    "GRAFANA_USER": "grafana",
    "GRAFANA_PASSWORD": "grafanaSecret3",
}


def render(cfg: CassandraConfig) -> Rendered:
    def body() -> object:
        return CassandraStack("cassandra", CassandraStackArgs("pipeline", cfg, "fast", IMAGE))

    return run_mocked(body)


def test_schema_configmap_carries_the_contracts_cql_file_verbatim() -> None:
    cm = render(CassandraConfig()).manifest("ConfigMap", "cassandra-schema")
    assert cm["data"]["cassandra-setup.cql"] == setup_cql(KEYSPACE)


def test_schema_job_mounts_the_configmap_and_reads_credentials_from_the_secret() -> None:
    job = render(CassandraConfig()).manifest("Job", "cassandra-schema")["spec"]["template"]
    volumes = {v["name"]: v for v in job["spec"]["volumes"]}
    assert volumes["schema"]["configMap"]["name"] == "cassandra-schema"
    assert volumes["work"]["emptyDir"]["medium"] == "Memory"
    env = job["spec"]["containers"][0]["env"]
    secret_refs = [e for e in env if "valueFrom" in e]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in secret_refs} == {
        "cassandra-credentials"
    }


def test_schema_change_changes_the_job_template() -> None:
    job = render(CassandraConfig()).manifest("Job", "cassandra-schema")
    annotations = job["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["finnhub/schema-sha256"]) == 64


def test_readiness_probe_speaks_the_cql_protocol() -> None:
    sts = render(CassandraConfig()).manifest("StatefulSet", "cassandra")
    probe = sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["exec"]["command"] == ["python3", "-c", CQL_READY_PROBE]


def test_password_authentication_is_on_in_the_rendered_cassandra_yaml() -> None:
    cm = render(CassandraConfig()).manifest("ConfigMap", "cassandra-config")
    lines = cm["data"]["cassandra.yaml"].splitlines()
    assert 'authenticator: "PasswordAuthenticator"' in lines
    assert 'authorizer: "CassandraAuthorizer"' in lines


def fake_cqlsh(folder: Path, admin_exists: bool, failures_before_ready: int) -> Path:
    """A cqlsh that refuses every login until the node is up, then accepts the credentials a
    real node would: the default superuser until it is disabled, ours once it was created.
    It logs its argv and the content of every file it is asked to run."""
    log = folder / "cqlsh.log"
    (folder / "attempts").write_text("0")
    if admin_exists:
        (folder / "admin_exists").touch()
        (folder / "default_disabled").touch()
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "cqlsh"
    script.write_text(
        f"""#!/bin/bash
state={folder}
echo "ARGV $*" >> {log}
n=$(( $(cat $state/attempts) + 1 )); echo $n > $state/attempts
[ $n -gt {failures_before_ready} ] || exit 1
creds=""; file=""; stmt=""; prev=""
for a in "$@"; do
  case $a in --credentials=*) creds=${{a#--credentials=}};; esac
  [ "$prev" = -f ] && file=$a
  [ "$prev" = -e ] && stmt=$a
  prev=$a
done
if grep -q "username = cassandra" "$creds"; then
  [ -f $state/default_disabled ] && exit 1
else
  [ -f $state/admin_exists ] || exit 1
fi
if [ -n "$file" ]; then
  echo "FILE $file" >> {log}; cat "$file" >> {log}
  case $file in *admin.cql) touch $state/admin_exists;; esac
fi
case $stmt in *"ALTER ROLE cassandra"*) touch $state/default_disabled;; esac
exit 0
"""
    )
    script.chmod(0o755)
    return log


def run_schema_job(
    tmp_path: Path, admin_exists: bool, failures: int, rf: int = 1
) -> tuple[int, str, str]:
    log = fake_cqlsh(tmp_path, admin_exists, failures)
    work = tmp_path / "work"
    work.mkdir()
    schema = tmp_path / "schema"
    schema.mkdir()
    (schema / "cassandra-setup.cql").write_text(setup_cql())
    cfg = CassandraConfig(replicas=max(rf, 1), replication_factor=rf)
    script = schema_job_script(
        "ns", cfg, work_dir=str(work), schema_dir=str(schema), retry_seconds=0, deadline_seconds=2
    )
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**ENV, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"},
    )
    return result.returncode, log.read_text(), result.stderr


def test_first_run_replaces_the_default_superuser_and_applies_schema_and_roles(
    tmp_path: Path,
) -> None:
    code, log, err = run_schema_job(tmp_path, admin_exists=False, failures=3, rf=3)
    assert code == 0, err
    assert 'CREATE ROLE IF NOT EXISTS "finnhub_admin"' in log
    assert "ALTER ROLE cassandra WITH SUPERUSER = false AND LOGIN = false" in log
    assert "CREATE KEYSPACE IF NOT EXISTS market" in log
    assert (
        "ALTER KEYSPACE market WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}"
        in log
    )
    assert 'GRANT MODIFY ON KEYSPACE market TO "finnhub"' in log
    assert 'GRANT SELECT ON KEYSPACE market TO "grafana"' in log


def test_later_runs_log_in_as_the_generated_superuser(tmp_path: Path) -> None:
    code, log, err = run_schema_job(tmp_path, admin_exists=True, failures=0)
    assert code == 0, err
    assert "WITH SUPERUSER = true" not in log
    assert "ALTER ROLE cassandra" not in log
    assert "CREATE KEYSPACE IF NOT EXISTS market" in log


def test_passwords_never_appear_in_cqlsh_argv(tmp_path: Path) -> None:
    code, log, err = run_schema_job(tmp_path, admin_exists=False, failures=1)
    assert code == 0, err
    argv = "\n".join(line for line in log.splitlines() if line.startswith("ARGV"))
    for key in ("ADMIN_PASSWORD", "APP_PASSWORD", "GRAFANA_PASSWORD"):
        assert ENV[key] not in argv


def test_schema_job_fails_with_the_address_when_cassandra_never_accepts_cql(
    tmp_path: Path,
) -> None:
    code, _, err = run_schema_job(tmp_path, admin_exists=True, failures=10_000)
    assert code == 1
    assert "cassandra.ns.svc.cluster.local:9042" in err


def test_schema_job_waits_by_retry_loop_not_by_fixed_sleep() -> None:
    script = schema_job_script("ns", CassandraConfig())
    lines = script.splitlines()
    sleeps = [i for i, line in enumerate(lines) if "sleep" in line]
    loops = []
    for start, line in enumerate(lines):
        if line.lstrip().startswith(("while ", "until ")):
            end = next(i for i in range(start, len(lines)) if lines[i].strip() == "done")
            loops.append((start, end))
    assert sleeps and all(any(a < i < b for a, b in loops) for i in sleeps)


@pytest.mark.parametrize("replicas,rf", [(1, 2), (2, 3)])
def test_replication_factor_above_the_node_count_is_rejected(replicas: int, rf: int) -> None:
    with pytest.raises(ValueError, match="replicationFactor"):
        CassandraConfig(replicas=replicas, replication_factor=rf)
