"""Background JVM processes recorded by pid file: start, check, stop, read their log."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from local_stack.errors import LocalStackError, MissingToolError

PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>

# C1 only: both services boot mostly by loading and running cold code, and C2's background
# compilation competes for the same two cores.
QUICK_START_JIT_FLAGS = ("-XX:TieredStopAtLevel=1",)


@dataclass(frozen=True)
class ProcessFiles:
    """Where one service keeps its pid and its combined stdout/stderr log."""

    pid_file: Path
    log_file: Path
    # A string unique to this service and state dir that its command line contains: a pid file
    # left over from a reboot may name a pid now used by something else, which must not be killed.
    identity: str


# Kafka 4's broker and Cassandra 5.0 both need Java 17 (Cassandra 5.0 runs on 11 or 17).
MINIMUM_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(?:1\.)?(\d+)')


def java_major_version(version_output: str) -> int | None:
    """17 from `openjdk version "17.0.15" ...`; 8 from the old `"1.8.0_392"` style."""
    match = _JAVA_VERSION.search(version_output)
    return int(match.group(1)) if match else None


def find_java(java: str) -> str:
    """The path of a Java 17+ launcher, or an error that says what to install."""
    install = (
        "Install one (Debian: apt-get install openjdk-17-jdk-headless) or set LOCAL_STACK_JAVA."
    )
    path = shutil.which(java)
    if path is None:
        raise MissingToolError(
            f"Java ({java!r}) is not on PATH; Kafka and Cassandra run on a Java 17 JVM. {install}."
        )
    result = subprocess.run([path, "-version"], capture_output=True, text=True, check=False)
    major = java_major_version(result.stderr + result.stdout)
    if major is None or major < MINIMUM_JAVA:
        raise MissingToolError(
            f"{path} is Java {major or 'of unknown version'}; Kafka 4 needs Java "
            f"{MINIMUM_JAVA} or newer. {install}."
        )
    return path


def start_background(
    command: list[str], files: ProcessFiles, cwd: Path, stop_with_parent: bool = False
) -> int:
    """Starts `command` detached from our terminal and session, logging to files.log_file.

    With stop_with_parent the kernel sends it SIGTERM when the calling process dies, even by
    SIGKILL: a test session that is killed must not leave JVMs behind on a shared machine.
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
            # Own session: Ctrl-C in the shell that ran `local-stack up` must not stop the services.
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
    except (FileNotFoundError, ProcessLookupError):
        return False
    if not _any_thread_alive(pid):
        return False
    # Empty while the java launcher re-executes itself at start, and after the main thread
    # has exited while shutdown hooks still run (Cassandra drains for seconds, ports bound).
    return cmdline == "" or identity in cmdline


def _any_thread_alive(pid: int) -> bool:
    """A JVM's main thread can be a zombie while its other threads still run, so ask each."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def stop(files: ProcessFiles, timeout_s: float) -> bool:
    """SIGTERM, wait up to timeout_s, then SIGKILL. True if a process was running."""
    pid = recorded_pid(files)
    if pid is None:
        files.pid_file.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and is_running(pid, files.identity):
        time.sleep(0.2)
    if is_running(pid, files.identity):
        _signal(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_running(pid, files.identity):
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"pid {pid} from {files.pid_file} survived SIGKILL; check it with ps"
                )
            time.sleep(0.1)
    files.pid_file.unlink(missing_ok=True)
    return True


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
    # Runs in the child between fork and exec; PR_SET_PDEATHSIG survives the exec of java.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    # When the services are our own children (tests, `make run`), a stopped one stays a zombie
    # until waited for; elsewhere waitpid says it is not our child, which is fine.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
