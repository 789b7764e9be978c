"""The cluster's components as background processes: whether one still runs, how it stops, and
which are left. Starting and signalling them is background_processes'."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from background_processes.pid_files import ProcessFiles, reap, recorded, signal_quietly

from local_cluster.errors import LocalClusterError


def recorded_pid(files: ProcessFiles) -> int | None:
    """The pid in the pid file if that process still runs and is ours, else None."""
    pid = recorded(files)
    return pid if pid is not None and is_running(pid, files.identity) else None


def is_running(pid: int, identity: str) -> bool:
    reap(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X") and identity in cmdline


def is_alive(pid: int) -> bool:
    """Whether a process we just started still runs: before its exec its command line is still
    ours, so the identity check of is_running would misjudge it."""
    reap(pid)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def stop(files: ProcessFiles, timeout_s: float) -> bool:
    """SIGTERM, wait up to timeout_s, then SIGKILL. True if a process was running."""
    pid = recorded_pid(files)
    if pid is None:
        files.pid_file.unlink(missing_ok=True)
        return False
    stop_pid(pid, files.identity, timeout_s)
    files.pid_file.unlink(missing_ok=True)
    return True


def stop_pid(pid: int, identity: str, timeout_s: float) -> None:
    signal_quietly(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and is_running(pid, identity):
        time.sleep(0.1)
    if is_running(pid, identity):
        signal_quietly(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_running(pid, identity):
            if time.monotonic() > deadline:
                raise LocalClusterError(f"pid {pid} survived SIGKILL; check it with ps")
            time.sleep(0.1)


def pids_with(identity: str) -> list[int]:
    """Every live process whose command line contains identity (the cluster's state dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if is_running(int(entry.name), identity):
            found.append(int(entry.name))
    return found
