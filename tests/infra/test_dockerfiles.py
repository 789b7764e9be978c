"""The app Dockerfiles: pinned bases, non-root, cached dependency layer, and the contract with
the Pulumi program (entry file, metrics port, connector versions). No Docker engine here, so
these read the files; the images themselves are built by `pulumi up`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from finnhub_infra.components.processor_workload import MAIN_APPLICATION_FILE, SPARK_UID
from finnhub_infra.config import ProducerConfig

ROOT = Path(__file__).resolve().parents[2]
APPS = ("producer", "processor")


def dockerfile(app: str) -> str:
    return (ROOT / "apps" / app / "Dockerfile").read_text()


def instructions(text: str) -> list[str]:
    """Dockerfile instructions with continuations joined (heredoc bodies kept as lines)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line for line in joined.splitlines() if line and not line.startswith("#")]


def final_stage(text: str) -> list[str]:
    lines = instructions(text)
    start = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[start:]


def lock_version(package: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == package)


@pytest.mark.parametrize("app", APPS)
def test_every_base_image_is_pinned_to_a_version(app: str) -> None:
    for line in instructions(dockerfile(app)):
        if line.startswith("FROM "):
            image = line.split()[1]
            assert re.search(r":\d+\.\d+", image), image


@pytest.mark.parametrize("app", APPS)
def test_final_stage_runs_as_a_numeric_non_root_user(app: str) -> None:
    users = [line.split()[1] for line in final_stage(dockerfile(app)) if line.startswith("USER ")]
    assert users, "no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0


@pytest.mark.parametrize("app", APPS)
def test_dependencies_install_before_the_sources_are_copied(app: str) -> None:
    lines = instructions(dockerfile(app))
    deps = next(i for i, line in enumerate(lines) if "--no-install-workspace" in line)
    source = next(i for i, line in enumerate(lines) if line.startswith(f"COPY apps/{app}/src"))
    assert deps < source


@pytest.mark.parametrize("app", APPS)
def test_dependency_layer_copies_every_workspace_members_manifest(app: str) -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    text = dockerfile(app)
    for member in root["tool"]["uv"]["workspace"]["members"]:
        assert f"COPY {member}/pyproject.toml {member}/" in text, member


@pytest.mark.parametrize("app", APPS)
def test_image_installs_from_the_frozen_lock_without_dev_tools(app: str) -> None:
    syncs = [line for line in instructions(dockerfile(app)) if "uv sync" in line]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)


def test_producer_runs_its_console_script_and_exposes_the_metrics_port() -> None:
    stage = final_stage(dockerfile("producer"))
    assert 'ENTRYPOINT ["finnhub-producer"]' in stage
    assert f"EXPOSE {ProducerConfig().metrics_port}" in stage
    scripts = tomllib.loads((ROOT / "apps/producer/pyproject.toml").read_text())["project"]
    assert "finnhub-producer" in scripts["scripts"]


def test_processor_image_provides_the_spark_applications_entry_file() -> None:
    path = MAIN_APPLICATION_FILE.removeprefix("local://")
    assert f"COPY <<'MAIN' {path}" in dockerfile("processor")
    assert 'runpy.run_module("finnhub_processor", run_name="__main__"' in dockerfile("processor")


def test_processor_runs_as_the_uid_the_spark_application_declares() -> None:
    assert f"USER {SPARK_UID}:{SPARK_UID}" in final_stage(dockerfile("processor"))


def test_processor_bakes_connectors_matching_the_locked_pyspark() -> None:
    version = lock_version("pyspark")
    text = dockerfile("processor")
    for artifact in ("spark-sql-kafka-0-10_2.13", "spark-avro_2.13"):
        assert f"<artifactId>{artifact}</artifactId>\n      <version>{version}</version>" in text
        assert f"{artifact}-{version}.jar" in text


def test_dockerignore_keeps_local_state_and_the_venv_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("*")] == "*"
    allowed = [line[1:] for line in lines if line.startswith("!")]
    for forbidden in (".venv", ".git", ".state", ".cache", "tests", "terraform-bootstrap"):
        assert not any(a.startswith(forbidden) for a in allowed), forbidden


def test_no_secret_is_baked_into_an_image() -> None:
    for app in APPS:
        for line in instructions(dockerfile(app)):
            if line.startswith(("ENV ", "ARG ")):
                assert not re.search(r"(?i)token|password|secret", line), line


def test_processor_entry_file_runs_the_processors_main(tmp_path: Path) -> None:
    # Run the entry file the Dockerfile writes; a bad setting makes main() exit 2 at once.
    text = dockerfile("processor")
    body = text.split("COPY <<'MAIN' /opt/finnhub/processor_main.py\n", 1)[1].split("\nMAIN\n")[0]
    entry = tmp_path / "processor_main.py"
    entry.write_text(body + "\n")
    result = subprocess.run(
        [sys.executable, str(entry)],
        env={**os.environ, "CASSANDRA_PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "finnhub-processor: invalid configuration" in result.stderr
