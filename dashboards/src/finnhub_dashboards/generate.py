"""`finnhub-dashboards`: write the generated dashboards to dashboards/grafana/, or check them."""

import argparse
import sys
from pathlib import Path

from finnhub_dashboards.dashboard import DASHBOARD_UID, dashboard_json

# src/finnhub_dashboards/generate.py -> dashboards/grafana: the folder GrafanaStack provisions.
GRAFANA_DIR = Path(__file__).resolve().parents[2] / "grafana"


def generated_files() -> dict[str, str]:
    """File name -> content of every dashboard this package generates."""
    return {f"{DASHBOARD_UID}.json": dashboard_json()}


def stale_files(folder: Path) -> list[str]:
    """Names of generated files that are missing from `folder` or differ from the generator."""
    stale = []
    for name, content in generated_files().items():
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=GRAFANA_DIR, help="folder of dashboard JSON")
    parser.add_argument(
        "--check", action="store_true", help="only report files that differ; exit 1 if any"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name} differs from the generator: run finnhub-dashboards")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in generated_files().items():
        (args.out / name).write_text(content, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
