"""pyspark's Python worker daemon, minus the traceback of a worker whose task was killed.

A stop cancels the real-time trades query's tasks mid-epoch, always: their Python workers then
find the JVM's end of the socket closed and pyspark's daemon prints the worker's `EOFError`
with its traceback on stderr, the processor's log. The JVM ended the task and reports it (or
not, on a requested stop), so the worker ends quietly instead, exactly as after the traceback.
The job points `spark.python.daemon.module` here.
"""

from __future__ import annotations

import socket

from pyspark import daemon

_serve = daemon.worker


def worker(sock: socket.socket, authenticated: bool) -> int:
    """pyspark's `daemon.worker`; a connection the JVM closed mid-task ends it with code 1."""
    try:
        return _serve(sock, authenticated)
    except EOFError:
        return 1


# The daemon's fork loop calls the module-level `worker`, looked up at each call.
daemon.worker = worker

if __name__ == "__main__":
    daemon.manager()
