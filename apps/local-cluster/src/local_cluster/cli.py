"""`local-cluster up|down|status|logs|kubeconfig`: a real single-node Kubernetes on this machine."""

from __future__ import annotations

import argparse

from background_processes.log_files import print_log
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from local_cluster.cluster import COMPONENTS, LocalCluster, UpReport
from local_cluster.errors import LocalClusterError
from local_cluster.settings import LocalClusterSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="local-cluster",
        description="Run a real single-node Kubernetes cluster (etcd, API server, controllers, "
        "containerd, kubelet, kube-proxy, CoreDNS, a hostPath provisioner, dockerd and an image "
        "registry) on this machine, built from package registries only. Needs root.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", help="install/build what is missing, start everything, wait for Ready"
    )
    commands.add_parser("down", help="stop everything; leave no process, mount or iptables chain")
    commands.add_parser("status", help="what runs where, and whether it answers")
    logs = commands.add_parser("logs", help="show the end of a component's log")
    logs.add_argument("component", choices=COMPONENTS)
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    kubeconfig = commands.add_parser("kubeconfig", help="print the admin kubeconfig")
    kubeconfig.add_argument("--path", action="store_true", help="print its path instead")
    return parser


def _environment_help() -> str:
    lines = ["environment (default):"]
    for name, field in LocalClusterSettings.model_fields.items():
        unset = field.default_factory is not None or field.default is None
        shown = field.description if unset else field.default
        lines.append(f"  LOCAL_CLUSTER_{name.upper():<26} {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console(stderr=True, log_path=False, soft_wrap=True)
    try:
        settings = LocalClusterSettings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "LOCAL_CLUSTER_" + str(first["loc"][0]).upper()
        console.print(f"[bold red]local-cluster:[/] {name}: {first['msg']}", highlight=False)
        return 2
    try:
        if args.command == "up":
            return _up(settings, console)
        cluster = LocalCluster(settings)
        if args.command == "down":
            stopped = cluster.down()
            console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
            return 0
        if args.command == "status":
            return _status(cluster)
        if args.command == "kubeconfig":
            path = cluster.admin_kubeconfig
            if not path.is_file():
                raise LocalClusterError(f"no kubeconfig at {path}: run `local-cluster up` first")
            print(path if args.path else path.read_text())
            return 0
        print_log(cluster.log_file(args.component), args.lines, args.follow)
        return 0
    except LocalClusterError as error:
        console.print(f"[bold red]local-cluster {args.command} failed:[/] {error}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


def _up(settings: LocalClusterSettings, console: Console) -> int:
    with console.status("starting local cluster") as status:

        def report(message: str) -> None:
            status.update(message)
            console.log(message)

        cluster = LocalCluster(settings, on_event=report)
        result = cluster.up()
    _print_summary(cluster, result)
    return 0


def _print_summary(cluster: LocalCluster, result: UpReport) -> None:
    out = Console()
    s = cluster.settings
    out.print(
        f"[bold green]node {s.node_name} Ready[/] in {result.seconds:.0f} s "
        f"(API server {s.apiserver_url}, registry {s.registry_address})"
    )
    for name, seconds in result.built.items():
        out.print(f"  built {name} in {seconds:.0f} s")
    out.print(f"  export KUBECONFIG={cluster.admin_kubeconfig}", highlight=False)
    out.print(f"  kubectl: {cluster.bin / 'kubectl'}", highlight=False)
    out.print(f"  docker:  docker -H unix://{cluster.layout.docker_socket}", highlight=False)
    out.print("Stop with: local-cluster down    Logs: local-cluster logs kubelet")


def _status(cluster: LocalCluster) -> int:
    table = Table("component", "address", "pid", "answering", "RSS")
    statuses = cluster.status()
    for status in statuses:
        table.add_row(
            status.name,
            status.address,
            str(status.pid or "-"),
            "yes" if status.answering else "no",
            f"{status.rss_bytes / 2**20:.0f} MiB" if status.rss_bytes else "-",
        )
    out = Console()
    out.print(table)
    total = sum(status.rss_bytes or 0 for status in statuses)
    out.print(
        f"resident memory of these processes: {total / 2**20:.0f} MiB "
        "(pods and containerd-shims not included)"
    )
    return 0 if all(status.answering for status in statuses) else 3
