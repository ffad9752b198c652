"""The `hub` command as an admin runs it: configuration from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = str(Path(sys.executable).with_name("hub"))


def run_hub(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_"))}
    return subprocess.run([HUB, *args], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_db_upgrade_creates_the_sqlite_database_under_var(tmp_path: Path) -> None:
    result = run_hub("db", "upgrade", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "hub.db").exists()
    assert "database at 0" in result.stdout


def test_a_half_configured_connector_stops_the_command_with_the_key_named(tmp_path: Path) -> None:
    result = run_hub("db", "upgrade", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "xoxb-1" not in result.stderr + result.stdout
