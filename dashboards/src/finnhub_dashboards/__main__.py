import sys

from finnhub_dashboards.generate import main

sys.exit(main())
