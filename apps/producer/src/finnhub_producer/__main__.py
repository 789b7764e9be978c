"""`python -m finnhub_producer`: the image's entry point, the same as `finnhub-producer`."""

import sys

from finnhub_producer.cli import main

sys.exit(main())
