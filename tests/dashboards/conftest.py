"""The dashboard tests' own helper (dashboard_statements) lives beside them, not in the package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
