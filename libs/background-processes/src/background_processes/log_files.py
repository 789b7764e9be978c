"""Reading a background process's log: its last lines, or follow it as `tail -f` does."""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        with log_file.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return f"(no log at {log_file})"


def print_log(log_file: Path, lines: int, follow: bool) -> None:
    """The last `lines` lines to stdout; with `follow`, every new line until interrupted."""
    sys.stdout.write(log_tail(log_file, lines))
    sys.stdout.flush()
    if not follow:
        return
    with log_file.open(errors="replace") as handle:
        handle.seek(0, 2)
        while True:
            line = handle.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.5)
