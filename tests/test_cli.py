"""The `hub` command as an admin runs it: configuration from the environment; `hub ask` asks a running server
first (and says which answered), refuses a missing or unmigrated database before loading anything, stays quiet
unless -v; `hub serve` takes its port from --port or HUB_PORT and a taken port is one line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app import Hub, cli, create_app
from core.db import Database, DecisionRow
from interceptor.engine import Interceptor, LazyInterceptor
from surfaces import views
from surfaces.cli import ask as ask_module
from tests.conftest import served
from tests.test_api_ask import _import_articles
from tests.test_engine import TOP, FakeScorer

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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, **extra: str) -> dict[str, Any]:
    env: dict[str, Any] = {"HUB_DATABASE_URL": database_url, "HUB_DENSE": "off", "HUB_CONFIG": None,
                           "HUB_URL": f"http://127.0.0.1:{_closed_port()}"}
    env.update(extra)
    return env


def count_rows(database_url: str, model: Any) -> int:
    """How many rows the table of ``model`` holds."""
    db = Database(database_url)
    try:
        with db.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        db.dispose()


@pytest.fixture
def server(hub: Hub) -> Iterator[str]:
    """A hub serving on a loopback port (its interceptor on a fake scorer); yields its URL."""
    engine = Interceptor(hub.settings, FakeScorer(0.99))
    with served(create_app(hub=replace(hub, interceptor=LazyInterceptor(lambda: engine)))) as url:
        yield url


def test_ask_is_answered_by_a_running_server_and_says_so(server: str, hub: Hub, tmp_path: Path) -> None:
    # The CLI's own database does not exist: only the server can have answered.
    env = _env(f"sqlite:///{tmp_path / 'absent.db'}", HUB_URL=server)
    result = CliRunner().invoke(cli, ["ask", "how do I reset my password?"], env=env)
    assert result.exit_code == 0, result.output
    assert f"(answered by the hub server at {server})" in result.stderr
    assert "verdict:    answer" in result.stdout and f"- {TOP.title} <{TOP.url}>" in result.stdout
    assert not (tmp_path / "absent.db").exists()
    assert count_rows(hub.settings.database_url, DecisionRow) == 0  # an admin's question is not a web request

    escalated = CliRunner().invoke(cli, ["ask", "I want a refund", "--json"], env=env)
    body = json.loads(escalated.stdout)
    assert body["verdict"] == "escalate" and body["answer"] is None and TOP.title in body["draft"]


def test_a_server_refusing_the_question_is_an_error_not_a_local_fallback(server: str, tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'absent.db'}", HUB_URL=server)
    result = CliRunner().invoke(cli, ["ask", "hello", "--channel", "marketing"], env=env)
    assert result.exit_code == 1
    assert "refused the question: unknown channel 'marketing'" in result.stderr


def test_without_a_server_ask_says_it_loads_the_kb_here(sqlite_url: str) -> None:
    _import_articles(sqlite_url)
    result = CliRunner().invoke(cli, ["ask", "How do I reset my password?"], env=_env(sqlite_url))
    assert result.exit_code == 0, result.output
    assert "no hub server at http://127.0.0.1:" in result.stderr and "loading the knowledge base here" in result.stderr
    assert "a server on another port or host: set HUB_PORT or HUB_URL" in result.stderr  # e.g. after make run PORT=8001
    assert "Reset your password <https://kb.example/reset-password>" in result.stdout
    local = CliRunner().invoke(cli, ["ask", "--local", "How do I reset my password?"], env=_env(sqlite_url))
    assert local.exit_code == 0 and "no hub server" not in local.stderr and "verdict:" in local.stdout


def test_ask_refuses_a_missing_or_unmigrated_database_before_loading_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_load(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the KB index was loaded")

    monkeypatch.setattr("interceptor.engine.build_interceptor", must_not_load)
    missing = CliRunner().invoke(cli, ["ask", "hello"], env=_env(f"sqlite:///{tmp_path / 'new.db'}"))
    assert missing.exit_code == 1 and "there is no database at" in missing.stderr and "hub db upgrade" in missing.stderr
    assert not (tmp_path / "new.db").exists()  # asking did not create an empty database
    (tmp_path / "empty.db").touch()
    empty = CliRunner().invoke(cli, ["ask", "hello"], env=_env(f"sqlite:///{tmp_path / 'empty.db'}"))
    assert empty.exit_code == 1 and "no schema yet" in empty.stderr and "run `hub db upgrade`" in empty.stderr


@pytest.mark.parametrize("command", [["kb", "import", "."], ["kb", "list"], ["kb", "remove", "x.md"], ["kb", "index"],
                                     ["kb", "calibrate", "--reset"], ["kb", "sync"], ["retry"], ["serve", "--port", "1"],
                                     ["scheduler"], ["worker"]])
def test_the_commands_refuse_a_missing_or_unmigrated_database_before_starting_anything(tmp_path: Path, command: list[str]) -> None:
    missing = CliRunner().invoke(cli, command, env=_env(f"sqlite:///{tmp_path / 'new.db'}"))
    assert missing.exit_code == 1 and "there is no database at" in missing.stderr and "run `hub db upgrade`" in missing.stderr
    assert not (tmp_path / "new.db").exists()  # the command did not create an empty database (it used to, then fail)
    (tmp_path / "empty.db").touch()
    empty = CliRunner().invoke(cli, command, env=_env(f"sqlite:///{tmp_path / 'empty.db'}"))
    assert empty.exit_code == 1 and "no schema yet" in empty.stderr and "Traceback" not in empty.output


@pytest.mark.parametrize("setting, message", [
    ({"HUB_URL": "notaurl"}, "HUB_URL is 'notaurl': set it to the hub server's address, e.g. http://127.0.0.1:8000"),
    ({"HUB_URL": "localhost:8001"}, "HUB_URL is 'localhost:8001': set it to the hub server's address"),
    ({"HUB_URL": "http://127.0.0.1:80o1"}, "HUB_URL is 'http://127.0.0.1:80o1': set it"),
    ({"HUB_URL": None, "HUB_PORT": "abc"}, "HUB_PORT is 'abc': set it to the port `hub serve` listens on (1-65535)"),
    ({"HUB_URL": None, "HUB_PORT": "80010"}, "HUB_PORT is '80010': set it to the port"),
    ({"HUB_URL": None, "HUB_PORT": "\u0663"}, "HUB_PORT is '\u0663': set it to the port"),  # int() read it as 3
])
def test_ask_with_a_server_address_that_is_not_one_names_the_setting(sqlite_url: str, setting: dict[str, Any],
                                                                      message: str) -> None:
    result = CliRunner().invoke(cli, ["ask", "How do I reset my password?"], env=_env(sqlite_url, **setting))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception  # was a traceback
    assert result.stderr.startswith(f"Error: {message}") and len(result.stderr.strip().splitlines()) == 1


def test_ask_checks_the_channel_locally_too(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["ask", "hello", "--channel", "marketing"], env=_env(sqlite_url))
    assert result.exit_code == 2 and "unknown channel 'marketing'" in result.stderr


def test_the_cli_and_the_api_limit_questions_alike() -> None:
    assert ask_module.MAX_TEXT_CHARS == views.MAX_TEXT_CHARS


def _run_hub(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | env
    return subprocess.run([sys.executable, "-c", "from surfaces.cli import main; main()", *args], cwd=ROOT,
                          env=full, capture_output=True, text=True, timeout=timeout)


def test_ask_logs_nothing_but_warnings_unless_verbose(sqlite_url: str) -> None:
    _import_articles(sqlite_url)
    env = {k: str(v) for k, v in _env(sqlite_url).items() if v is not None}
    quiet = _run_hub(["ask", "How do I reset my password?"], env)
    assert quiet.returncode == 0, quiet.stderr
    assert " INFO " not in quiet.stderr and "it/s" not in quiet.stderr
    assert "verdict:" in quiet.stdout
    verbose = _run_hub(["ask", "-v", "How do I reset my password?"], env)
    assert " INFO interceptor" in verbose.stderr


def test_a_log_line_ends_with_its_events_figures(sqlite_url: str) -> None:
    # The lines said the event's key alone ("interceptor.dense.progress"): a rebuild watched in the log never
    # said how far it got, a changed KB never which version.
    _import_articles(sqlite_url)
    env = {k: str(v) for k, v in _env(sqlite_url).items() if v is not None}
    verbose = _run_hub(["-v", "kb", "index"], env)
    assert verbose.returncode == 0, verbose.stderr
    indexed = [line for line in verbose.stderr.splitlines() if " interceptor.kb.indexed" in line]
    assert len(indexed) == 1 and re.search(r" INFO interceptor\.retrieval\.scorer interceptor\.kb\.indexed "
                                           r"kb_version=[0-9a-f]{16} articles=\d+ seconds=[0-9.]+$", indexed[0]), indexed
    assert "reason='dense retrieval is switched off (HUB_DENSE=off)'" in verbose.stderr  # a value with spaces, quoted


def test_one_shot_commands_print_what_they_did_not_log_lines_unless_verbose(sqlite_url: str, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    for n in range(300):  # 2,400 retrieval units: past the embedder's 1,024-text progress step
        (tmp_path / f"a{n}.md").write_text(f"---\ntitle: Topic {n} guide\n---\n# Topic {n} guide\n\nAbout topic {n}.\n\n"
                                           f"## Setup {n}\n\nSet up item {n}.\n\n## Errors {n}\n\nError E{n}: retry.\n\n"
                                           f"## Billing {n}\n\nInvoice {n} is monthly.\n", encoding="utf-8")
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    imported = _run_hub(["kb", "import", str(tmp_path)], env)
    indexed = _run_hub(["kb", "index"], env | {"HUB_DENSE": "auto"})
    for result in (imported, indexed):
        assert result.returncode == 0, result.stderr
        assert " INFO " not in result.stderr and "Loading weights" not in result.stderr, result.stderr
    assert "imported 300 articles" in imported.stdout
    assert "  2400/2400 texts embedded" in indexed.stderr and "indexed 300 articles (2400 units)" in indexed.stdout
    verbose = _run_hub(["-v", "kb", "import", str(tmp_path)], env)
    assert verbose.returncode == 0 and " INFO " in verbose.stderr


def test_serve_on_a_taken_port_is_one_line(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
        by_option = _run_hub(["serve", "--port", str(port)], env)
        by_env = _run_hub(["serve"], env | {"HUB_PORT": str(port)})
    for result in (by_option, by_env):
        assert result.returncode == 1
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use "
                         "(choose another port: hub serve --port N, or make run PORT=N)"], result.stderr
        assert "serving on" not in result.stdout


def test_an_embedding_model_that_cannot_load_is_a_configuration_error_not_a_traceback(sqlite_url: str, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    _import_articles(sqlite_url)
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "auto", "HUB_EMBEDDING_MODEL": str(tmp_path / "no-such-model"),
           "HUB_URL": f"http://127.0.0.1:{_closed_port()}"}
    ask = _run_hub(["ask", "--local", "How do I reset my password?"], env)
    serve = _run_hub(["serve", "--port", str(_closed_port())], env)  # refuses to serve: every decision would be a 500
    # a scaled-out inbox worker decides too: it refuses before it reaches the broker (none listens on this port)
    worker = _run_hub(["worker"], env | {"HUB_QUEUE": "celery", "HUB_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{_closed_port()}//"})
    for result in (ask, serve, worker):
        assert result.returncode == 1, result.stderr
        assert "Error: invalid configuration: HUB_EMBEDDING_MODEL: cannot load" in result.stderr
        assert "HUB_DENSE=off" in result.stderr and "Traceback" not in result.stderr
    assert "serving on" not in serve.stdout


@pytest.mark.parametrize("args,env,port", [(["PORT=8123"], {}, "8123"), ([], {"HUB_PORT": "8124"}, "8124"), ([], {}, "8000")])
def test_make_run_takes_the_port(args: list[str], env: dict[str, str], port: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_") and k != "PORT"}
    result = subprocess.run(["make", "-n", "run", *args], cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"hub serve --host 127.0.0.1 --port {port}" in result.stdout


def _unopenable(tmp_path: Path, kind: str) -> str:
    """A ``HUB_DATABASE_URL`` the hub cannot open, of the ``kind`` an admin mistypes."""
    if kind == "folder":
        (tmp_path / "var").mkdir()
        return f"sqlite:///{tmp_path / 'var'}"
    if kind == "not-a-database":
        (tmp_path / "notes.txt").write_text("not a database\n" * 100, encoding="utf-8")
        return f"sqlite:///{tmp_path / 'notes.txt'}"
    if kind == "under-a-file":
        (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
        return f"sqlite:///{tmp_path / 'notes.txt' / 'hub.db'}"
    return f"postgresql+psycopg://hub:secret-pw@127.0.0.1:{_closed_port()}/hub"  # nothing listens there


@pytest.mark.parametrize("kind, hint", [
    ("folder", "is a folder: HUB_DATABASE_URL names the database file in it"),
    ("not-a-database", "is not a SQLite database: point HUB_DATABASE_URL at"),
    ("under-a-file", "is a file, not a folder: set HUB_DATABASE_URL"),
    ("unreachable-postgresql", "check that the database server runs"),
])
def test_a_database_that_cannot_be_opened_is_one_line_naming_the_setting(tmp_path: Path, kind: str, hint: str) -> None:
    url = _unopenable(tmp_path, kind)
    upgrade = CliRunner().invoke(cli, ["db", "upgrade"], env=_env(url))  # make run's first command: a traceback
    assert upgrade.exit_code == 1 and isinstance(upgrade.exception, SystemExit), upgrade.exception  # not a traceback
    assert upgrade.stderr.startswith("Error: cannot open the database at ") and hint in upgrade.stderr, upgrade.output
    assert len(upgrade.stderr.strip().splitlines()) == 1 and "secret-pw" not in upgrade.output
    if kind != "under-a-file":  # there, `hub kb list` says there is no database yet and to run `hub db upgrade`
        listed = CliRunner().invoke(cli, ["kb", "list"], env=_env(url))  # it said to run `hub db upgrade`, or a traceback
        assert listed.exit_code == 1 and isinstance(listed.exception, SystemExit), listed.output
        assert "cannot open the database at " in listed.stderr and hint in listed.stderr and "hub db upgrade" not in listed.stderr
