"""Background processes recorded by pid file: start, check, stop, read their log."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from local_cluster.errors import LocalClusterError

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


@dataclass(frozen=True)
class ProcessFiles:
    """Where one component keeps its pid and its combined stdout/stderr log."""

    pid_file: Path
    log_file: Path
    # A string its command line contains (the state dir): a pid file left over from a reboot
    # may name a pid now used by something else, which must not be killed.
    identity: str


def start_background(
    command: list[str],
    files: ProcessFiles,
    cwd: Path,
    env: dict[str, str] | None = None,
    stop_with_parent: bool = False,
) -> int:
    """Starts `command` in its own session, logging to files.log_file.

    With stop_with_parent the kernel sends it SIGTERM when the calling process dies, even by
    SIGKILL: a killed test session must not leave a cluster behind on a shared machine.
    """
    files.log_file.parent.mkdir(parents=True, exist_ok=True)
    files.pid_file.parent.mkdir(parents=True, exist_ok=True)
    with files.log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_terminate_when_parent_dies if stop_with_parent else None,
        )
    files.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def recorded_pid(files: ProcessFiles) -> int | None:
    """The pid in the pid file if that process still runs and is ours, else None."""
    try:
        pid = int(files.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_running(pid, files.identity) else None


def is_running(pid: int, identity: str) -> bool:
    _reap(pid)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X") and identity in cmdline


def is_alive(pid: int) -> bool:
    """Whether a process we just started still runs: before its exec its command line is still
    ours, so the identity check of is_running would misjudge it."""
    _reap(pid)
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
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and is_running(pid, identity):
        time.sleep(0.1)
    if is_running(pid, identity):
        _signal(pid, signal.SIGKILL)
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


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a running process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return None
    return None


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        with log_file.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return f"(no log at {log_file})"


def _terminate_when_parent_dies() -> None:
    # Runs in the child between fork and exec; PR_SET_PDEATHSIG survives the exec.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
