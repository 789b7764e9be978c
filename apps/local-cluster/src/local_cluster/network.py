"""The pods' bridge and the cluster's guard rules; and taking all of it away again.

Pods get no default route (CNI config), so a connection to any address off the machine fails in
the pod itself. The guard rules are a second wall: in the mangle table, which runs before
kube-proxy's filter chains, the bridge forwards only to itself, and the bridge's own address
(where the API server and kubelet listen) answers only loopback and the bridge.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from local_cluster.errors import LocalClusterError

GUARD_FORWARD = "LOCAL-CLUSTER-FWD"
GUARD_INPUT = "LOCAL-CLUSTER-IN"
# Chains the cluster's components create: kube-proxy's and kubelet's (KUBE-), CNI portmap's (CNI-),
# and ours. Only these are removed on the way down.
OWNED_CHAIN_PREFIXES = ("KUBE-", "CNI-", "LOCAL-CLUSTER-")


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LocalClusterError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")
    return result


def bridge_exists(bridge: str) -> bool:
    return Path(f"/sys/class/net/{bridge}").exists()


def ensure_bridge(bridge: str, address: str, prefix_len: int) -> None:
    """The bridge exists before any pod does: the API server binds its address at start."""
    if not bridge_exists(bridge):
        run("ip", "link", "add", bridge, "type", "bridge")
    run("ip", "addr", "replace", f"{address}/{prefix_len}", "dev", bridge)
    run("ip", "link", "set", bridge, "up")
    # Forwarding for packets that arrive on the bridge only (pod -> ClusterIP -> pod); the
    # machine-wide switch and every other interface are left as they are.
    Path(f"/proc/sys/net/ipv4/conf/{bridge}/forwarding").write_text("1\n")


def delete_bridge(bridge: str) -> None:
    if bridge_exists(bridge):
        run("ip", "link", "delete", bridge)


def guard_rules(bridge: str, bridge_address: str) -> list[list[str]]:
    """iptables argument lists (mangle table) that make up both guard chains."""
    return [
        ["-A", GUARD_FORWARD, "-i", bridge, "-o", bridge, "-j", "RETURN"],
        ["-A", GUARD_FORWARD, "-i", bridge, "-j", "DROP"],
        ["-A", GUARD_FORWARD, "-o", bridge, "-j", "DROP"],
        ["-A", GUARD_INPUT, "-d", bridge_address, "-i", "lo", "-j", "RETURN"],
        ["-A", GUARD_INPUT, "-d", bridge_address, "-i", bridge, "-j", "RETURN"],
        ["-A", GUARD_INPUT, "-d", bridge_address, "-j", "DROP"],
    ]


def ensure_guard(bridge: str, bridge_address: str) -> None:
    for chain, hook in ((GUARD_FORWARD, "FORWARD"), (GUARD_INPUT, "INPUT")):
        if run("iptables", "-t", "mangle", "-n", "-L", chain, check=False).returncode != 0:
            run("iptables", "-t", "mangle", "-N", chain)
        run("iptables", "-t", "mangle", "-F", chain)
        if run("iptables", "-t", "mangle", "-C", hook, "-j", chain, check=False).returncode != 0:
            run("iptables", "-t", "mangle", "-I", hook, "1", "-j", chain)
    for rule in guard_rules(bridge, bridge_address):
        run("iptables", "-t", "mangle", *rule)


def owned_chains(save_output: str) -> dict[str, list[str]]:
    """{table: [chain, ...]} of the chains in `iptables-save` output that the cluster made."""
    chains: dict[str, list[str]] = {}
    table = ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            name = line[1:].split()[0]
            if name.startswith(OWNED_CHAIN_PREFIXES):
                chains.setdefault(table, []).append(name)
    return chains


def jumps_into_owned(save_output: str) -> list[tuple[str, list[str]]]:
    """(table, rule args) of every rule that jumps to an owned chain from a chain not owned."""
    found = []
    table = ""
    for line in save_output.splitlines():
        if line.startswith("*"):
            table = line[1:]
            continue
        if not line.startswith("-A "):
            continue
        words = shlex.split(line)
        chain = words[1]
        target = words[words.index("-j") + 1] if "-j" in words else ""
        if target.startswith(OWNED_CHAIN_PREFIXES) and not chain.startswith(OWNED_CHAIN_PREFIXES):
            found.append((table, words[1:]))
    return found


def remove_owned_chains() -> list[str]:
    """Deletes every owned chain, IPv4 and IPv6, and the jumps into them. Returns their names."""
    removed = []
    for tool in ("iptables", "ip6tables"):
        save = run(f"{tool}-save", check=False).stdout
        for table, rule in jumps_into_owned(save):
            run(tool, "-t", table, "-D", *rule, check=False)
        for table, chains in owned_chains(save).items():
            for chain in chains:
                run(tool, "-t", table, "-F", chain, check=False)
            for chain in chains:
                if run(tool, "-t", table, "-X", chain, check=False).returncode == 0:
                    removed.append(f"{tool}:{table}/{chain}")
    return removed


def remaining_owned_chains() -> list[str]:
    left = []
    for tool in ("iptables", "ip6tables"):
        for table, chains in owned_chains(run(f"{tool}-save", check=False).stdout).items():
            left.extend(f"{tool}:{table}/{chain}" for chain in chains)
    return left
