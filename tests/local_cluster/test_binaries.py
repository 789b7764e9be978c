"""Binaries are rebuilt when, and only when, what they are built from changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from local_cluster import binaries


@pytest.fixture
def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> binaries.GoBuild:
    source = tmp_path / "go" / "demo"
    source.mkdir(parents=True)
    (source / "go.mod").write_text("module demo\n\ngo 1.26\n")
    (source / "main.go").write_text("package main\n\nfunc main() {}\n")
    monkeypatch.setattr(binaries, "GO_SOURCES", tmp_path / "go")
    return binaries.GoBuild(name="demo", packages=(".",), outputs=("demo",))


def test_a_built_binary_with_its_stamp_is_current(wrapper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "demo").write_text("binary")
    (bin_dir / ".demo.stamp").write_text(binaries.stamp_of(wrapper, "go1.26.8") + "\n")
    assert binaries.is_current(wrapper, bin_dir, "go1.26.8")


def test_a_changed_pin_or_go_version_makes_it_stale(wrapper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "demo").write_text("binary")
    (bin_dir / ".demo.stamp").write_text(binaries.stamp_of(wrapper, "go1.26.8") + "\n")
    assert not binaries.is_current(wrapper, bin_dir, "go1.27.0")
    (wrapper.wrapper / "go.mod").write_text("module demo\n\ngo 1.26\n\nrequire x v1.0.1\n")
    assert not binaries.is_current(wrapper, bin_dir, "go1.26.8")


def test_a_missing_binary_is_stale_whatever_the_stamp(wrapper, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / ".demo.stamp").write_text(binaries.stamp_of(wrapper, "go1.26.8") + "\n")
    assert not binaries.is_current(wrapper, bin_dir, "go1.26.8")


def test_every_wrapper_module_is_committed_with_its_go_sum() -> None:
    for build in binaries.ALL_BUILDS:
        assert (build.wrapper / "go.mod").is_file(), build.name
        if build.name != "pause":
            assert (build.wrapper / "go.sum").is_file(), build.name
