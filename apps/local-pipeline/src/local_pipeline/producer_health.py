"""What the producer says about its feed, read from its own /metrics (for `make run`'s screen).

The producer serves `finnhub_feed_state{state="...",reason="..."} 1` (finnhub_producer.metrics):
one series, the current state and the last connection error. Parsed here from the Prometheus
text format as any scraper would, without the producer's libraries; the status test
(tests/local_pipeline/test_pipeline_status.py) reads a real producer, so a renamed metric or
label fails there.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from dataclasses import dataclass

FEED_STATE_METRIC = "finnhub_feed_state"
_SERIES = re.compile(rf"^{FEED_STATE_METRIC}\{{(?P<labels>.*)\}}\s+(?P<value>\S+)\s*$")
_LABEL = re.compile(r'(?P<name>[a-zA-Z_]\w*)="(?P<value>(?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


@dataclass(frozen=True)
class FeedState:
    state: str
    reason: str = ""

    def describe(self) -> str:
        """`feed connected`, `feed reconnecting (connect failed: ... refused)`."""
        return f"feed {self.state}" + (f" ({self.reason})" if self.reason else "")


def _unescape(value: str) -> str:
    return re.sub(r"\\[\\\"n]", lambda match: _UNESCAPE[match.group(0)], value)


def parse_feed_state(metrics_text: str) -> FeedState | None:
    """The series of `finnhub_feed_state` whose value is 1, or None if there is none."""
    for line in metrics_text.splitlines():
        match = _SERIES.match(line)
        if match is None or float(match.group("value")) != 1.0:
            continue
        labels = {
            label.group("name"): _unescape(label.group("value"))
            for label in _LABEL.finditer(match.group("labels"))
        }
        if "state" in labels:
            return FeedState(labels["state"], labels.get("reason", ""))
    return None


def metrics_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def read_feed_state(url: str, timeout_s: float = 0.5) -> FeedState | None:
    """The producer's feed state, or None while its metrics do not answer (still starting)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as reply:
            return parse_feed_state(reply.read().decode(errors="replace"))
    except (OSError, urllib.error.URLError, ValueError):
        return None
