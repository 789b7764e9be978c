"""The env-var contract: an app's settings model is the one list of the variables it reads.

Two checks read that list. `unread_variables` is for whatever starts an app (`make run`'s
orchestrator, the infra components, the benchmarks): a name it sets that the app does not read
is a rename or a typo that would otherwise run silently on a default; the tests call it on the
environments each starter builds. `unknown_variables` is for the app itself at start: a
variable with one of the app's prefixes that it does not know is reported in one warning line.

Duck-typed on pydantic-settings models (`model_config`, `model_fields`), so this package
depends on nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def variable_names(*settings_models: Any) -> frozenset[str]:
    """Every variable the models read: env prefix + field name (or a string alias), upper case."""
    names: set[str] = set()
    for model in settings_models:
        prefix = model.model_config.get("env_prefix", "")
        for field_name, field in model.model_fields.items():
            alias = field.validation_alias
            names.add(alias.upper() if isinstance(alias, str) else f"{prefix}{field_name}".upper())
    return frozenset(names)


def unread_variables(env: Iterable[str], known: Iterable[str]) -> list[str]:
    """The names in `env` (a mapping's keys, or a list of `{"name": ...}` entries' names) that
    the app reading `known` would ignore, sorted."""
    known_names = {name.upper() for name in known}
    return sorted({name for name in env if name.upper() not in known_names})


def container_env_names(env: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of a Kubernetes container's `env` list."""
    return [entry["name"] for entry in env]


def unknown_variables(
    environ: Mapping[str, str],
    prefixes: Iterable[str],
    known: Iterable[str],
    foreign: Iterable[str] = (),
) -> list[str]:
    """Variables of `environ` with one of the app's `prefixes` that are neither `known` nor
    another program's (`foreign`), sorted. Names compare case-insensitively, as pydantic-settings
    reads them."""
    prefix_list = tuple(prefix.upper() for prefix in prefixes)
    ignored = {name.upper() for name in (*known, *foreign)}
    return sorted(
        name
        for name in environ
        if name.upper().startswith(prefix_list) and name.upper() not in ignored
    )


def unknown_variables_message(app: str, names: Iterable[str]) -> str | None:
    """The one warning line for `names`, or None when there are none. Names only, never values
    (a value could be a secret)."""
    listed = sorted(names)
    if not listed:
        return None
    return (
        f"{app} does not read {', '.join(listed)}: a misspelt or renamed variable? "
        "(its settings list every variable it reads; see its README)"
    )
