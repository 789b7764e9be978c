"""`python -m finnhub_processor`, the entry point spark-submit and the spark-operator run."""

import sys

from finnhub_processor.cli import main

sys.exit(main())
