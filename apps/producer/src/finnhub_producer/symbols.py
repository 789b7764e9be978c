"""Optional start-up check of the configured symbols with Finnhub's symbol lookup."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr


def symbol_is_listed(symbol: str, lookup_response: dict[str, Any]) -> bool:
    """Whether Finnhub's `/search` answer lists exactly this symbol."""
    results = lookup_response.get("result")
    if not isinstance(results, list):
        return False
    return any(
        isinstance(r, dict) and symbol in (r.get("symbol"), r.get("displaySymbol")) for r in results
    )


def unknown_symbols(
    symbols: Iterable[str], rest_url: str, token: SecretStr | None, timeout_s: float = 10.0
) -> Sequence[str]:
    """Symbols Finnhub's lookup does not know. The token goes in a header, never in the URL."""
    headers = {"X-Finnhub-Token": token.get_secret_value()} if token is not None else {}
    unknown = []
    for symbol in symbols:
        request = urllib.request.Request(
            f"{rest_url.rstrip('/')}/search?{urlencode({'q': symbol})}", headers=headers
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
        if not symbol_is_listed(symbol, answer):
            unknown.append(symbol)
    return unknown
