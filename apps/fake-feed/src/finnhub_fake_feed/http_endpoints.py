"""The plain HTTP answers the feed gives on its websocket port, pure: path in, response out.

`/healthz` is for the kubelet's probes, `/sent` for a test outside the pod that compares what
the feed sent with what reached Cassandra. Any other path is a websocket handshake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

HEALTHZ = "/healthz"
SENT = "/sent"


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: HTTPStatus
    content_type: str
    body: str


def is_http_endpoint(request_path: str) -> bool:
    return urlsplit(request_path).path in (HEALTHZ, SENT)


def answer(
    request_path: str, serving: bool, sent_report: Callable[[], dict[str, Any]]
) -> HttpAnswer:
    """The answer to a GET of one of the endpoints (see `is_http_endpoint`); `sent_report` is
    called only for `/sent`, since building it costs a pass over every kept trade."""
    path = urlsplit(request_path).path
    if path == HEALTHZ:
        if serving:
            return HttpAnswer(HTTPStatus.OK, "text/plain; charset=utf-8", "ok\n")
        return HttpAnswer(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", "stopping\n")
    if path == SENT:
        return HttpAnswer(HTTPStatus.OK, "application/json", json.dumps(sent_report()))
    return HttpAnswer(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", "not found\n")
