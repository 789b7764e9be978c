"""`python -m local_pipeline` is the same as the `finnhub-run` command."""

import sys

from local_pipeline.pipeline import main

sys.exit(main())
