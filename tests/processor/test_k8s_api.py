"""The submitter's API client over real TLS: a local HTTPS server on 127.0.0.1 with its own CA
(`api_server` in conftest.py) stands in for the API server's transport (token, CA, Status
replies), not for Kubernetes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from finnhub_processor.k8s_api import ApiError, InClusterApi
from tls_api_server import FakeApiServer, certificate


def api_for(api_server: FakeApiServer, tmp_path: Path) -> InClusterApi:
    return InClusterApi(server=api_server.url, account_dir=tmp_path / "account", timeout_s=5.0)


def test_pods_are_listed_by_label_selector_with_the_accounts_token(
    api_server: FakeApiServer, tmp_path: Path
) -> None:
    api_server.replies.append((200, {"kind": "PodList", "items": [{"metadata": {"name": "d"}}]}))
    found = api_for(api_server, tmp_path).list_pods("finnhub", "a=b,spark-role=driver")
    assert found["items"][0]["metadata"]["name"] == "d"
    method, path, auth = api_server.seen[0]
    assert method == "GET"
    assert path == "/api/v1/namespaces/finnhub/pods?labelSelector=a%3Db%2Cspark-role%3Ddriver"
    assert auth == "Bearer token-one"


def test_a_rotated_token_is_used_from_the_next_request_on(
    api_server: FakeApiServer, tmp_path: Path
) -> None:
    api = api_for(api_server, tmp_path)
    api.list_pods("finnhub", "a=b")
    (tmp_path / "account" / "token").write_text("token-two")
    api.list_pods("finnhub", "a=b")
    assert [auth for _, _, auth in api_server.seen] == ["Bearer token-one", "Bearer token-two"]


def test_a_refusal_carries_the_api_servers_reason_and_not_the_token(
    api_server: FakeApiServer, tmp_path: Path
) -> None:
    message = 'pods is forbidden: User "system:serviceaccount:finnhub:x" cannot list pods'
    api_server.replies.append((403, {"kind": "Status", "message": message}))
    with pytest.raises(ApiError, match="HTTP 403") as error:
        api_for(api_server, tmp_path).list_pods("finnhub", "a=b")
    assert message in str(error.value)
    assert "token-one" not in str(error.value)


def test_deleting_a_pod_already_gone_is_no_error(api_server: FakeApiServer, tmp_path: Path) -> None:
    api_server.replies.append((404, {"kind": "Status", "message": 'pods "d" not found'}))
    api_for(api_server, tmp_path).delete_pod("finnhub", "d")
    assert api_server.seen[0][:2] == ("DELETE", "/api/v1/namespaces/finnhub/pods/d")


def test_a_server_the_cluster_ca_did_not_sign_is_refused(
    api_server: FakeApiServer, tmp_path: Path
) -> None:
    other, _ = certificate(tmp_path, "other")
    shutil.copy(other, tmp_path / "account" / "ca.crt")
    with pytest.raises(ApiError, match="CERTIFICATE_VERIFY_FAILED"):
        api_for(api_server, tmp_path).list_pods("finnhub", "a=b")
    assert api_server.seen == []


def test_missing_service_account_files_are_named(tmp_path: Path) -> None:
    api = InClusterApi(server="https://127.0.0.1:1", account_dir=tmp_path / "none")
    with pytest.raises(ApiError, match="service account files"):
        api.list_pods("finnhub", "a=b")
