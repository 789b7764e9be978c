"""Kafka's and Cassandra's JVMs as background processes: the Java they need, whether one still
runs, how it stops. Starting and signalling them is background_processes'."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from background_processes.pid_files import ProcessFiles, reap, recorded, signal_quietly

from local_stack.errors import LocalStackError, MissingToolError

# C1 only: both services boot mostly by loading and running cold code, and C2's background
# compilation competes for the same two cores.
QUICK_START_JIT_FLAGS = ("-XX:TieredStopAtLevel=1",)


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


def recorded_pid(files: ProcessFiles) -> int | None:
    """The pid in the pid file if that process still runs and is ours, else None."""
    pid = recorded(files)
    return pid if pid is not None and is_running(pid, files.identity) else None


def is_running(pid: int, identity: str) -> bool:
    # When the services are our own children (tests, `make run`), a stopped one stays a zombie
    # until waited for.
    reap(pid)
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
    signal_quietly(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and is_running(pid, files.identity):
        time.sleep(0.2)
    if is_running(pid, files.identity):
        signal_quietly(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_running(pid, files.identity):
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"pid {pid} from {files.pid_file} survived SIGKILL; check it with ps"
                )
            time.sleep(0.1)
    files.pid_file.unlink(missing_ok=True)
    return True
