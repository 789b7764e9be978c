"""background_processes: start, signal and read the logs of processes recorded by pid file."""
