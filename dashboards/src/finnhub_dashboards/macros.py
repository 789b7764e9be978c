"""Substitute Grafana's macros and template variables in a panel's CQL, as Grafana would.

The Cassandra datasource replaces `$__timeFrom` / `$__timeTo` with the dashboard range in
milliseconds since the epoch and `$__unixEpochFrom` / `$__unixEpochTo` with seconds; Grafana's
template service expands `${name:singlequote}` to `'a','b'` (quotes doubled inside values) and
`$name` / `${name}` to the values joined by commas. Anything left that looks like a variable is
an error here, so a panel that Grafana could not run does not pass silently.
"""

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

_TIME_MACRO = re.compile(r"\$__(timeFrom|timeTo|unixEpochFrom|unixEpochTo)\b(\(\))?")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


class UnresolvedVariableError(ValueError):
    """A `$name` in a statement that no macro or given variable accounts for."""


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; Grafana ranges are absolute instants")
    return int(moment.timestamp() * 1000)


def cql_string_literal(value: str) -> str:
    """A CQL string literal: single quotes, an embedded quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def _format_values(values: Sequence[str], fmt: str | None, name: str) -> str:
    if fmt is None:
        return ",".join(values)
    if fmt == "singlequote":
        return ",".join(cql_string_literal(value) for value in values)
    raise UnresolvedVariableError(f"variable format {fmt!r} of ${{{name}}} is not supported")


def render_cql(
    template: str,
    time_from: datetime,
    time_to: datetime,
    variables: Mapping[str, Sequence[str]],
) -> str:
    """`template` with every macro and variable replaced, ready for the CQL driver."""
    time_values = {
        "timeFrom": _epoch_ms(time_from),
        "timeTo": _epoch_ms(time_to),
        "unixEpochFrom": _epoch_ms(time_from) // 1000,
        "unixEpochTo": _epoch_ms(time_to) // 1000,
    }
    rendered = _TIME_MACRO.sub(lambda match: str(time_values[match.group(1)]), template)

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name not in variables:
            raise UnresolvedVariableError(f"${name} has no value in {template!r}")
        values = variables[name]
        if not values:
            raise UnresolvedVariableError(f"${name} has an empty value list")
        return _format_values(values, match.group(2), name)

    return _VARIABLE.sub(expand, rendered)
