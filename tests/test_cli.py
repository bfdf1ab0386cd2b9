"""The command line: tokens, schema export, clear configuration errors."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from voronka.cli import app
from voronka.settings import INSECURE_DEV_SECRET, Settings

runner = CliRunner()


def test_token_carries_employee_and_role(monkeypatch, tmp_path):
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["token", "--employee", "anna", "--role", "manager", "--hours", "1"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), INSECURE_DEV_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["role"]) == ("anna", "manager") and claims["exp"] - claims["iat"] == 3600


def test_token_refuses_an_unknown_role_and_a_bad_employee_id():
    assert runner.invoke(app, ["token", "--employee", "anna", "--role", "god"]).exit_code == 2
    result = runner.invoke(app, ["token", "--employee", "Анна Петровна", "--role", "manager"])
    assert result.exit_code == 1 and "not an employee id" in result.output


def test_a_bad_setting_is_reported_by_name_without_a_traceback(monkeypatch):
    monkeypatch.setenv("VORONKA_BUSINESS_TIMEZONE", "Mars/Olympus")
    result = runner.invoke(app, ["token", "--employee", "anna", "--role", "manager"])
    assert result.exit_code == 2 and "VORONKA_BUSINESS_TIMEZONE" in result.output and "Traceback" not in result.output


def test_production_refuses_the_development_secret():
    with pytest.raises(ValueError, match="VORONKA_SECRET_KEY"):
        Settings(production=True)


def test_schemas_export_command(tmp_path):
    result = runner.invoke(app, ["schemas", "export", str(tmp_path / "out")])
    assert result.exit_code == 0 and (tmp_path / "out" / "envelope.json").exists()


def test_catalog_import_is_idempotent_and_a_malformed_file_changes_nothing(monkeypatch, tmp_path):
    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "voronka" / "data" / "sample_catalog.xml"
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    first = runner.invoke(app, ["import", "catalog", str(sample)])
    assert first.exit_code == 0 and "listed: 200" in first.output and "9 products have no registry code" in first.output
    again = runner.invoke(app, ["import", "catalog", str(sample)])
    assert again.exit_code == 0 and "unchanged: 200" in again.output and "listed: 0" in again.output

    broken = tmp_path / "broken.xml"
    broken.write_text(sample.read_text(encoding="utf-8").replace("</Товары>", "", 1), encoding="utf-8")
    result = runner.invoke(app, ["import", "catalog", str(broken)])
    assert result.exit_code == 1 and "line" in result.output and "Traceback" not in result.output
    assert last_position(tmp_path) == 201  # 200 products and one import record; the rest changed nothing


def last_position(data_dir) -> int:
    from commands.store import EventStore

    return EventStore(Settings(data_dir=data_dir).event_store_env()).max_position()


def test_counterparties_round_trip_through_1c_files(monkeypatch, tmp_path):
    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "voronka" / "data" / "sample_counterparties.xml"
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    assert "created 20" in runner.invoke(app, ["import", "counterparties", str(sample)]).output
    assert "already known 20" in runner.invoke(app, ["import", "counterparties", str(sample)]).output
    out = tmp_path / "to-1c.csv"
    assert runner.invoke(app, ["export", "counterparties", "-o", str(out)]).exit_code == 0
    assert len(out.read_text(encoding="utf-8-sig").strip().splitlines()) == 21


def test_projections_status_shows_position_and_lag(monkeypatch, tmp_path):
    from pathlib import Path

    sample = Path(__file__).resolve().parent.parent / "voronka" / "data" / "sample_catalog.xml"
    monkeypatch.setenv("VORONKA_DATA_DIR", str(tmp_path))
    runner.invoke(app, ["import", "catalog", str(sample)])
    result = runner.invoke(app, ["projections", "status"])
    assert result.exit_code == 0 and "lead_card" in result.output and "201" in result.output  # nothing projected yet
