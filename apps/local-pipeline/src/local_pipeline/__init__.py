"""local_pipeline: `make run`, the whole pipeline on this machine."""
