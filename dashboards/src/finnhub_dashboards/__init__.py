"""Grafana dashboards as code, their panel queries, and local views of the same data."""
