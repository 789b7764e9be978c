"""Processes started in the background, each recorded by a pid file beside its log.

What counts as "still ours and running" differs by what runs: a JVM's main thread can be a zombie
while shutdown hooks still run (local-stack), while a scan of /proc for a cluster's leftovers must
never match a kernel thread's empty command line (local-cluster). So each app keeps its own
`is_running` and `stop`; what they start and signal the same way is here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


@dataclass(frozen=True)
class ProcessFiles:
    """Where one background process keeps its pid and its combined stdout/stderr log."""

    pid_file: Path
    log_file: Path
    # A string unique to this process and its state dir that its command line contains: a pid
    # file left over from a reboot may name a pid now used by something else, which must not be
    # killed.
    identity: str


def start_background(
    command: list[str],
    files: ProcessFiles,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stop_with_parent: bool = False,
) -> int:
    """Starts `command` in its own session (Ctrl-C in the shell that started it does not reach
    it), logging to files.log_file, and records its pid.

    With stop_with_parent the kernel sends it SIGTERM when the calling process dies, even by
    SIGKILL: a killed test session must not leave JVMs or a cluster behind on a shared machine.
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
            preexec_fn=terminate_when_parent_dies if stop_with_parent else None,
        )
    files.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def recorded(files: ProcessFiles) -> int | None:
    """The pid its pid file names, whether or not that process still runs."""
    try:
        return int(files.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def terminate_when_parent_dies() -> None:
    """For `preexec_fn`: runs in the child between fork and exec; PR_SET_PDEATHSIG survives the
    exec, so the kernel sends SIGTERM when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def signal_quietly(pid: int, signum: signal.Signals) -> None:
    """Send `signum`; a process that is already gone is what the caller wanted."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def reap(pid: int) -> None:
    """Wait for `pid` if it is our child and has exited: a stopped child stays a zombie until
    waited for; elsewhere waitpid says it is not our child, which is fine."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a running process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return None
    return None
