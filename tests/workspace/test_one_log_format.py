"""Every app logs in the one format of libs/logs: no app keeps a logging set-up of its own."""

from __future__ import annotations

from pathlib import Path

import finnhub_logs
from finnhub_fake_feed import cli as fake_feed_cli
from finnhub_processor import cli as processor_cli
from finnhub_processor import k8s_submit
from finnhub_producer import cli as producer_cli

ROOT = Path(__file__).resolve().parents[2]
# What configures Python's logging; only finnhub_logs may.
SET_UPS = ("structlog.configure(", "logging.basicConfig(", "logging.config.dictConfig(")


def test_every_entry_point_configures_logging_from_libs_logs() -> None:
    for module in (producer_cli, fake_feed_cli, processor_cli, k8s_submit):
        assert module.configure_logging is finnhub_logs.configure_logging, module.__name__


def test_no_app_keeps_a_logging_set_up_of_its_own() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {set_up}"
        for path in sorted(ROOT.glob("apps/*/src/**/*.py"))
        for set_up in SET_UPS
        if set_up in path.read_text()
    ]
    assert not offenders
