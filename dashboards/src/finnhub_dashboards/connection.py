"""Opening a Cassandra session from the settings; the only place that talks to the driver setup."""

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from finnhub_dashboards.settings import DashboardSettings


def connect(settings: DashboardSettings) -> tuple[Cluster, Session]:
    """A connected (cluster, session); the caller shuts the cluster down."""
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
    return cluster, cluster.connect()
