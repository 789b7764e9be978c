"""spark-submit's entry file: run the processor exactly as `python -m finnhub_processor`."""

import runpy

runpy.run_module("finnhub_processor", run_name="__main__", alter_sys=True)
