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
