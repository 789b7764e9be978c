"""Errors that tell the user what failed, where, and what to do about it."""

from __future__ import annotations


class LocalClusterError(Exception):
    """Base for every failure the `local-cluster` command reports without a traceback."""


class NotRootError(LocalClusterError):
    """The cluster needs root: network namespaces, mounts, iptables, cgroups, apt-get."""


class MissingPackageError(LocalClusterError):
    """A Debian package is missing and could not be installed."""


class BuildError(LocalClusterError):
    """A Go build of one of the cluster's binaries failed."""


class ComponentStartError(LocalClusterError):
    """A component did not become ready; the message names it, its address and its log tail."""
