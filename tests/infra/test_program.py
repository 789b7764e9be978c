"""The whole program under mocks, for both stacks: what it creates and how the parts are wired."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from finnhub_contracts.versions import CASSANDRA_VERSION, KAFKA_VERSION
from infra_harness import (
    COMPONENT_TYPES,
    FAKE_DIGEST,
    LOCAL_COMPONENT_TYPES,
    SUBMIT_COMPONENT_TYPES,
    TF_OUTPUTS,
    Rendered,
    run_program,
)


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def test_program_composes_one_of_each_component(any_stack: Rendered) -> None:
    kinds = Counter(r.typ for r in any_stack.resources if r.typ.startswith("finnhub:infra:"))
    assert set(kinds) == COMPONENT_TYPES
    assert all(count == 1 for count in kinds.values())


def test_submit_runner_composes_spark_submit_instead_of_the_operator(
    minikube_submit: Rendered,
) -> None:
    kinds = Counter(r.typ for r in minikube_submit.resources if r.typ.startswith("finnhub:infra:"))
    assert set(kinds) == SUBMIT_COMPONENT_TYPES
    assert all(count == 1 for count in kinds.values())


def test_local_stack_composes_the_submit_runner_the_fake_feed_and_no_grafana(
    local: Rendered,
) -> None:
    kinds = Counter(r.typ for r in local.resources if r.typ.startswith("finnhub:infra:"))
    assert set(kinds) == LOCAL_COMPONENT_TYPES
    assert all(count == 1 for count in kinds.values())
    assert local.of_type("docker:index/image:Image") == []


def test_local_stack_deploys_the_referenced_digests_and_reads_no_terraform_state(
    local: Rendered,
) -> None:
    assert local.calls == []
    images = {
        c["image"]
        for m in local.manifests()
        if m["kind"] in ("Deployment", "StatefulSet", "Job")
        for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert images and all(i.startswith("127.0.0.1:5000/finnhub-") for i in images)
    assert all(i.endswith(f"@{FAKE_DIGEST}") for i in images)


def test_submit_runner_needs_no_operator_chart_crd_or_namespace(minikube_submit: Rendered) -> None:
    assert minikube_submit.of_type("kubernetes:helm.sh/v3:Release") == []
    kinds = Counter(m["kind"] for m in minikube_submit.manifests())
    assert "SparkApplication" not in kinds and "Namespace" not in kinds
    assert kinds["Deployment"] == 4
    assert (kinds["ServiceAccount"], kinds["Role"], kinds["RoleBinding"]) == (2, 2, 2)


def test_submitter_runs_the_built_processor_image_by_digest(minikube_submit: Rendered) -> None:
    pod = minikube_submit.manifest("Deployment", "finnhub-processor-submitter")["spec"]
    (submitter,) = pod["template"]["spec"]["containers"]
    expected = f"{TF_OUTPUTS['registry_url']}/finnhub-processor@{FAKE_DIGEST}"
    assert submitter["image"] == expected
    assert f"spark.kubernetes.container.image={expected}" in submitter["args"]


def test_program_creates_expected_kubernetes_kinds(minikube: Rendered) -> None:
    kinds = Counter(m["kind"] for m in minikube.manifests())
    assert kinds == {
        "StatefulSet": 2,
        "Deployment": 3,
        "Job": 2,
        "Service": 7,
        "Secret": 4,
        "ConfigMap": 5,
        "NetworkPolicy": 10,
        "Namespace": 1,
        "ServiceAccount": 1,
        "Role": 1,
        "RoleBinding": 1,
        "PersistentVolumeClaim": 1,
        "SparkApplication": 1,
    }


def test_operator_chart_is_pinned(any_stack: Rendered) -> None:
    (release,) = any_stack.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["chart"] == "spark-operator"
    assert release.inputs["version"] == "2.4.0"
    assert release.inputs["repositoryOpts"]["repo"] == "https://kubeflow.github.io/spark-operator"


def test_every_namespaced_object_lands_in_the_bootstrap_namespace(every_stack: Rendered) -> None:
    for m in every_stack.manifests():
        if m["kind"] == "Namespace":
            continue
        assert m["metadata"]["namespace"] == TF_OUTPUTS["namespace"], m["metadata"]["name"]


def test_images_are_pushed_to_the_bootstrap_registry(any_stack: Rendered) -> None:
    names = sorted(r.inputs["imageName"] for r in any_stack.of_type("docker:index/image:Image"))
    assert names == [
        f"{TF_OUTPUTS['registry_url']}/finnhub-cassandra:{CASSANDRA_VERSION}-0.1.0",
        f"{TF_OUTPUTS['registry_url']}/finnhub-kafka:{KAFKA_VERSION}-0.1.0",
        f"{TF_OUTPUTS['registry_url']}/finnhub-processor:0.1.0",
        f"{TF_OUTPUTS['registry_url']}/finnhub-producer:0.1.0",
    ]


def test_app_images_build_from_each_apps_dockerfile_on_its_prepared_context(
    minikube: Rendered,
) -> None:
    for app in ("producer", "processor"):
        build = minikube.named(f"images-{app}").inputs["build"]
        assert build["dockerfile"].endswith(f"apps/{app}/Dockerfile")
        context = Path(build["context"])
        assert context.parts[-3:] == ("images", "contexts", app)
        assert (context / ".prepared").is_file() and (context / "app").is_dir()


JAR_OF = {
    "kafka": {"kafka_2.13": KAFKA_VERSION},
    "cassandra": {"cassandra-all": CASSANDRA_VERSION},
}


@pytest.mark.parametrize(
    ("image", "args"),
    [
        ("kafka", {"KAFKA_VERSION": KAFKA_VERSION}),
        ("cassandra", {"CASSANDRA_VERSION": CASSANDRA_VERSION}),
    ],
)
def test_kafka_and_cassandra_images_build_local_stacks_jar_set_at_its_pinned_version(
    minikube: Rendered, image: str, args: dict[str, str]
) -> None:
    build = minikube.named(f"images-{image}").inputs["build"]
    assert build["dockerfile"].endswith(f"images/{image}/Dockerfile")
    jars = Path(build["context"]) / "jars"
    assert {p.name for p in jars.glob("*.jar")} >= {
        f"{name}-{version}.jar" for name, version in JAR_OF[image].items()
    }
    assert args.items() <= build["args"].items()


@pytest.mark.parametrize(("workload", "image"), [("kafka", "kafka"), ("cassandra", "cassandra")])
def test_kafka_and_cassandra_pods_run_the_projects_own_images_by_digest(
    minikube: Rendered, workload: str, image: str
) -> None:
    pod = minikube.manifest("StatefulSet", workload)["spec"]["template"]["spec"]
    expected = f"{TF_OUTPUTS['registry_url']}/finnhub-{image}@{FAKE_DIGEST}"
    assert {c["image"] for c in pod["initContainers"] + pod["containers"]} == {expected}


def test_minikube_reads_terraform_state_from_the_local_file(minikube: Rendered) -> None:
    (call,) = minikube.calls
    assert call[0] == "terraform:state:getLocalReference"
    assert call[1]["path"].endswith("terraform-bootstrap/terraform.tfstate")


def test_eks_reads_terraform_state_from_s3(eks: Rendered) -> None:
    (call,) = eks.calls
    assert call[0] == "terraform:state:getS3Reference"
    assert call[1]["bucket"] and call[1]["key"] and call[1]["region"]


def test_missing_terraform_output_fails_with_the_command_to_run() -> None:
    with pytest.raises(Exception, match="terraform-bootstrap apply"):
        run_program("minikube", tf_outputs={"namespace": "finnhub"})


def test_workloads_run_the_built_images_by_digest(minikube: Rendered) -> None:
    producer = minikube.manifest("Deployment", "finnhub-producer")
    image = producer["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{TF_OUTPUTS['registry_url']}/finnhub-producer@{FAKE_DIGEST}"
    app = minikube.manifest("SparkApplication", "finnhub-processor")
    assert app["spec"]["image"] == f"{TF_OUTPUTS['registry_url']}/finnhub-processor@{FAKE_DIGEST}"


def test_producer_and_processor_use_the_kafka_stacks_address_and_topics(
    minikube: Rendered,
) -> None:
    kafka_service = minikube.manifest("Service", "kafka")
    port = kafka_service["spec"]["ports"][0]["port"]
    expected = f"kafka.{TF_OUTPUTS['namespace']}.svc.cluster.local:{port}"
    producer = env_of(
        minikube.manifest("Deployment", "finnhub-producer")["spec"]["template"]["spec"][
            "containers"
        ][0]
    )
    spark = minikube.manifest("SparkApplication", "finnhub-processor")["spec"]
    for env in (producer, env_of(spark["driver"]), env_of(spark["executor"])):
        assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == expected
        assert env["KAFKA_TOPIC"]["value"] == "market"
        assert env["KAFKA_DLQ_TOPIC"]["value"] == "market.dlq"


def test_processor_and_grafana_use_the_cassandra_stacks_address_and_credentials(
    minikube: Rendered,
) -> None:
    secret = minikube.manifest("Secret", "cassandra-credentials")
    spark = minikube.manifest("SparkApplication", "finnhub-processor")["spec"]
    for env in (env_of(spark["driver"]), env_of(spark["executor"])):
        assert env["CASSANDRA_HOSTS"]["value"] == "cassandra.finnhub.svc.cluster.local"
        assert env["CASSANDRA_PORT"]["value"] == "9042"
        assert env["CASSANDRA_KEYSPACE"]["value"] == "market"
        ref = env["CASSANDRA_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "cassandra-credentials"
        assert ref["key"] in secret["stringData"]
    grafana = minikube.manifest("Deployment", "grafana")["spec"]["template"]["spec"]
    env = env_of(grafana["containers"][0])
    ref = env["CASSANDRA_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == ("cassandra-credentials", "grafana-password")
    datasource = minikube.manifest("ConfigMap", "grafana-provisioning")["data"]["datasources.yaml"]
    assert "cassandra.finnhub.svc.cluster.local:9042" in datasource


def test_every_secret_reference_points_at_an_existing_secret_key(every_stack: Rendered) -> None:
    secrets = {
        m["metadata"]["name"]: set(m["stringData"])
        for m in every_stack.manifests()
        if m["kind"] == "Secret"
    }
    refs = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                refs.append(node["secretKeyRef"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(every_stack.manifests())
    assert refs
    for ref in refs:
        assert ref["key"] in secrets.get(ref["name"], set()), ref


def test_eks_scales_out_and_replicates_three_ways(eks: Rendered) -> None:
    assert eks.manifest("StatefulSet", "kafka")["spec"]["replicas"] == 3
    assert eks.manifest("StatefulSet", "cassandra")["spec"]["replicas"] == 3
    script = eks.manifest("ConfigMap", "cassandra-schema")["data"]["apply-schema.sh"]
    assert "'dc1': 3" in script
    topics = eks.manifest("Job", "kafka-topics")["spec"]["template"]["spec"]["containers"][0]
    assert "--replication-factor 3" in topics["command"][-1]


def test_eks_checkpoints_on_a_shared_volume(eks: Rendered, minikube: Rendered) -> None:
    eks_claim = eks.manifest("PersistentVolumeClaim", "processor-checkpoints")["spec"]
    assert eks_claim["accessModes"] == ["ReadWriteMany"]
    assert eks_claim["storageClassName"] == "efs-sc"
    local_claim = minikube.manifest("PersistentVolumeClaim", "processor-checkpoints")["spec"]
    assert local_claim["accessModes"] == ["ReadWriteOnce"]


def test_stacks_use_their_own_kube_context(minikube: Rendered, eks: Rendered) -> None:
    (local,) = minikube.of_type("pulumi:providers:kubernetes")
    (remote,) = eks.of_type("pulumi:providers:kubernetes")
    assert local.inputs["context"] == "minikube"
    assert remote.inputs["context"] == "finnhub-eks"


def test_kubernetes_resources_use_the_stacks_provider(every_stack: Rendered) -> None:
    for r in every_stack.resources:
        if r.typ.startswith("kubernetes:"):
            assert r.provider is not None and "::cluster::" in r.provider, r.name


def urn_type(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent types$>type::name
    return urn.split("::")[2].split("$")[-1]


def test_every_resource_is_a_child_of_its_component(every_stack: Rendered) -> None:
    assert len(every_stack.parents) == len(every_stack.resources)
    for urn, parent in every_stack.parents.items():
        typ = urn_type(urn)
        if typ.startswith("finnhub:infra:") or typ.startswith("pulumi:providers:"):
            assert urn_type(parent) == "pulumi:pulumi:Stack", urn
        else:
            assert urn_type(parent) in COMPONENT_TYPES | LOCAL_COMPONENT_TYPES, urn


def test_every_component_registers_the_outputs_others_need(any_stack: Rendered) -> None:
    by_type = {urn_type(urn): names for urn, names in any_stack.registered_outputs.items()}
    assert set(by_type) >= COMPONENT_TYPES
    assert {"bootstrap_servers", "topic", "dlq_topic"} <= by_type["finnhub:infra:KafkaStack"]
    assert {"contact_points", "credentials_secret_name"} <= by_type["finnhub:infra:CassandraStack"]
    assert {"producer", "processor"} <= by_type["finnhub:infra:AppImages"]
    assert {"admin_secret_name", "service_name"} <= by_type["finnhub:infra:GrafanaStack"]


def test_the_spark_runner_registers_what_the_stack_exports(
    minikube: Rendered, minikube_submit: Rendered
) -> None:
    operator = {urn_type(u): n for u, n in minikube.registered_outputs.items()}
    submit = {urn_type(u): n for u, n in minikube_submit.registered_outputs.items()}
    assert "operator_namespace" in operator["finnhub:infra:SparkOperatorStack"]
    assert "submitter_name" in submit["finnhub:infra:SparkSubmitStack"]
