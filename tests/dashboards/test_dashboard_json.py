import json
from pathlib import Path

from dashboard_statements import dashboard_statements
from finnhub_contracts.versions import CASSANDRA_DATASOURCE_PLUGIN
from finnhub_dashboards.dashboard import DATASOURCE_UID, REFRESH_INTERVALS
from finnhub_dashboards.generate import GRAFANA_DIR, generated_files, main, stale_files


def _committed() -> dict:
    return json.loads((GRAFANA_DIR / "finnhub-market.json").read_text(encoding="utf-8"))


def test_committed_dashboards_equal_generator_output() -> None:
    assert stale_files(GRAFANA_DIR) == [], "run `uv run finnhub-dashboards` and commit the JSON"


def test_check_mode_fails_on_a_hand_edited_file(tmp_path: Path) -> None:
    for name, content in generated_files().items():
        (tmp_path / name).write_text(content.replace("Finnhub market", "Edited"), encoding="utf-8")
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_every_target_uses_the_cassandra_datasource_by_fixed_uid() -> None:
    targets = [target for panel in _committed()["panels"] for target in panel.get("targets", [])]
    assert targets
    for target in targets:
        assert target["datasource"] == {"type": CASSANDRA_DATASOURCE_PLUGIN, "uid": DATASOURCE_UID}
        assert target["rawQuery"] is True


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in _committed()["panels"]]
    assert len(ids) == len(set(ids))


def test_symbol_variable_selects_all_symbols_by_default() -> None:
    (variable,) = _committed()["templating"]["list"]
    assert variable["name"] == "symbol"
    assert variable["includeAll"] and variable["multi"]
    assert variable["current"]["value"] == "$__all"


def test_half_second_refresh_is_offered() -> None:
    assert "500ms" in _committed()["timepicker"]["refresh_intervals"] == REFRESH_INTERVALS


def test_panels_cover_every_table_of_the_keyspace() -> None:
    text = " ".join(statement.cql for statement in dashboard_statements(_committed()))
    for table in ("market.trades", "market.trade_windows", "market.running_averages_15_sec"):
        assert table in text


def test_no_statement_asks_for_allow_filtering() -> None:
    for statement in dashboard_statements(_committed()):
        assert "ALLOW FILTERING" not in statement.cql.upper(), statement.source
