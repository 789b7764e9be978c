"""`local-stack up|down|status|logs`: real Kafka and Cassandra on this machine."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from background_processes.log_files import print_log
from finnhub_contracts.environment import unknown_variables_message
from finnhub_contracts.kafka import DLQ_TOPIC, TOPIC
from rich.console import Console
from rich.table import Table

from local_stack.errors import LocalStackError
from local_stack.settings import LocalStackSettings, unknown_environment
from local_stack.stack import LocalStack, StackEndpoints

SERVICES = ("kafka", "cassandra")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="local-stack",
        description="Run Apache Kafka (KRaft) and Apache Cassandra locally from Maven jars. "
        "Ports and folders come from LOCAL_STACK_* environment variables.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="resolve jars if needed, start both, apply schema and topics")
    commands.add_parser("down", help="stop both by their recorded pids")
    commands.add_parser("status", help="what runs where, and whether it answers")
    logs = commands.add_parser("logs", help="show the end of a service's log")
    logs.add_argument("service", choices=SERVICES, nargs="?", help="default: both")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    return parser


def _environment_help() -> str:
    lines = ["environment (default):"]
    for name, field in LocalStackSettings.model_fields.items():
        unset = field.default_factory is not None or field.default is None
        shown = field.description if unset else field.default
        lines.append(f"  LOCAL_STACK_{name.upper():<24} {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=True, log_path=False)
    try:
        settings = LocalStackSettings()
        if unknown := unknown_variables_message("local-stack", unknown_environment(os.environ)):
            console.print(f"[yellow]warning:[/] {unknown}", highlight=False)
        if args.command == "up":
            return _up(settings, console)
        if args.command == "down":
            stopped = LocalStack(settings).down()
            console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
            return 0
        if args.command == "status":
            return _status(settings)
        stack = LocalStack(settings)
        if args.service is None and args.follow:
            raise LocalStackError("--follow needs one service: kafka or cassandra")
        for name in [args.service] if args.service else SERVICES:
            if args.service is None:
                print(f"==> {stack.log_file(name)} <==", flush=True)
            print_log(stack.log_file(name), args.lines, args.follow)
        return 0
    except LocalStackError as error:
        console.print(f"[bold red]local-stack {args.command} failed:[/] {error}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


def _up(settings: LocalStackSettings, console: Console) -> int:
    with console.status("starting local stack") as status:

        def report(message: str) -> None:
            status.update(message)
            if not message.startswith("downloaded "):
                console.log(message)

        stack = LocalStack(settings, on_event=report)
        endpoints = stack.up()
        spark_jars = stack.spark_connector_jars()
    _print_endpoints(endpoints, spark_jars, settings.keyspace)
    return 0


def _print_endpoints(endpoints: StackEndpoints, spark_jars: list[Path], keyspace: str) -> None:
    out = Console()
    out.print(
        f"[bold green]Kafka[/]      {endpoints.kafka_bootstrap}  (topics {TOPIC}, {DLQ_TOPIC})"
    )
    out.print(
        f"[bold green]Cassandra[/]  {endpoints.cassandra_host}:{endpoints.cassandra_port}  "
        f"(keyspace: {keyspace})"
    )
    out.print(f"state, data and logs under {endpoints.state_dir}")
    out.print(f"{len(spark_jars)} Spark connector jars in {spark_jars[0].parent}")
    out.print("For the pipeline's apps:", style="bold")
    out.print(f"  export KAFKA_BOOTSTRAP_SERVERS={endpoints.kafka_bootstrap}", highlight=False)
    out.print(f"  export CASSANDRA_HOSTS={endpoints.cassandra_host}", highlight=False)
    out.print(f"  export CASSANDRA_PORT={endpoints.cassandra_port}", highlight=False)
    out.print("Stop with: uv run local-stack down    Logs: uv run local-stack logs cassandra")


def _status(settings: LocalStackSettings) -> int:
    table = Table("service", "address", "pid", "running", "answering", "RSS")
    statuses = LocalStack(settings).status()
    for status in statuses:
        table.add_row(
            status.name,
            status.address,
            str(status.pid or "-"),
            "yes" if status.running else "no",
            "yes" if status.answering else "no",
            f"{status.rss_bytes / 2**20:.0f} MiB" if status.rss_bytes else "-",
        )
    out = Console()
    out.print(table)
    for status in statuses:
        out.print(f"{status.name} log: {status.log_file}", highlight=False, soft_wrap=True)
    return 0 if all(status.answering for status in statuses) else 3
