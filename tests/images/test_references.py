"""The references file between `finnhub-images build` and a `prebuilt` stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from finnhub_images.references import (
    ReferencesError,
    parse_references,
    read_references,
    write_references,
)

DIGEST = "127.0.0.1:5000/finnhub-producer@sha256:" + "ab" * 32


def test_digest_references_are_read_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "refs.json"
    write_references(path, {"producer": DIGEST})
    write_references(path, {"kafka": DIGEST.replace("producer", "kafka")})
    refs = read_references(path, ["producer", "kafka"])
    assert refs["producer"] == DIGEST and refs["kafka"].endswith("ab" * 32)


def test_a_tag_is_refused_because_only_a_digest_pins_what_runs() -> None:
    with pytest.raises(ReferencesError, match=r"producer.*digest reference"):
        parse_references(json.dumps({"producer": "r/finnhub-producer:0.1.0"}), [], "refs.json")


def test_a_missing_image_or_file_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ReferencesError, match=r"no image kafka.*finnhub-images build"):
        parse_references(json.dumps({"producer": DIGEST}), ["producer", "kafka"], "refs.json")
    with pytest.raises(ReferencesError, match="deploy-local"):
        read_references(tmp_path / "absent.json", ["producer"])
