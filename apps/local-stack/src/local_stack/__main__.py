"""`python -m local_stack` is the same as the `local-stack` command."""

import sys

from local_stack.cli import main

sys.exit(main())
