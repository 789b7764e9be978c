"""Errors that tell the user what is missing and what to do about it."""

from __future__ import annotations


class LocalStackError(Exception):
    """Base for every failure the `local-stack` command reports without a traceback."""


class MissingToolError(LocalStackError):
    """Java or Maven is not installed or not on PATH."""


class ResolutionError(LocalStackError):
    """Maven could not resolve an artifact."""


class ServiceStartError(LocalStackError):
    """A service did not answer in time; the message names it, its address and its log tail."""
