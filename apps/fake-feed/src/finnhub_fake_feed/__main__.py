import sys

from finnhub_fake_feed.cli import main

sys.exit(main())
