"""Opening a Cassandra session from the settings; the only place that talks to the driver setup."""

from collections.abc import Mapping, Sequence

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from finnhub_dashboards.settings import DashboardSettings

START_HINT = "start it with `uv run local-stack up` (or `make run`)"


class CassandraUnreachable(Exception):
    """No contact point answered; the message names the addresses tried and how to start one."""


def unreachable_message(
    hosts: Sequence[str], port: int, errors: Mapping[str, BaseException]
) -> str:
    """One line: where we tried, why it failed, what to do (the driver's text is 24 lines)."""
    tried = ", ".join(errors) or ", ".join(f"{host}:{port}" for host in hosts)
    reasons = {str(error).rsplit("Last error: ", 1)[-1] for error in errors.values()}
    why = f" ({'; '.join(sorted(reasons))})" if reasons else ""
    return (
        f"cannot reach Cassandra at {tried}{why}: {START_HINT}, "
        "or set CASSANDRA_HOSTS / CASSANDRA_PORT to where it runs"
    )


def connect(settings: DashboardSettings) -> tuple[Cluster, Session]:
    """A connected (cluster, session); the caller shuts the cluster down.

    Raises CassandraUnreachable when no contact point answers.
    """
    auth = None
    if settings.cassandra_username and settings.cassandra_password:
        auth = PlainTextAuthProvider(
            settings.cassandra_username, settings.cassandra_password.get_secret_value()
        )
    cluster = Cluster(
        list(settings.cassandra_hosts),
        port=settings.cassandra_port,
        auth_provider=auth,
        load_balancing_policy=DCAwareRoundRobinPolicy(),
        protocol_version=5,
        connect_timeout=10,
    )
    try:
        return cluster, cluster.connect()
    except NoHostAvailable as error:
        cluster.shutdown()
        message = unreachable_message(
            settings.cassandra_hosts, settings.cassandra_port, error.errors
        )
        raise CassandraUnreachable(message) from None
