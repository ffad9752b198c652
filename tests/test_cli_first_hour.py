"""An admin's first hour with the `hub` command: a wrong port, a database that cannot be opened, a knowledge
source not configured, a temp dir that cannot be written. Each is one line that says what to set, with an exit
code that says it failed; never a traceback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from app import Hub, cli, create_app
from core.words import plural
from tests.conftest import served

ROOT = Path(__file__).resolve().parent.parent


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, **extra: str | None) -> dict[str, Any]:
    return {"HUB_DATABASE_URL": database_url, "HUB_DENSE": "off", "HUB_CONFIG": None, "HUB_PORT": None,
            "HUB_URL": f"http://127.0.0.1:{_closed_port()}", **extra}


def one_line(result: Result) -> str:
    """The error an admin reads: exactly one line on stderr, and no traceback."""
    assert isinstance(result.exception, SystemExit), result.exception  # click's own exit, not an exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# 1. the port

# "²".isdigit() is true and int("²") raised (a traceback), as int() of 5,000 digits does
@pytest.mark.parametrize("value", ["abc", "70000", "0", "-1", "80.5", "\u00b2", "9" * 5000])
def test_serve_with_a_port_that_is_not_one_says_what_a_port_is(sqlite_url: str, value: str) -> None:
    by_option = CliRunner().invoke(cli, ["serve", "--port", value], env=_env(sqlite_url))
    assert by_option.exit_code == 2  # a usage error: the command line is wrong
    assert f"'{value}' is not a port: --port (or HUB_PORT) takes a whole number from 1 to 65535, e.g. 8000" \
        in by_option.stderr
    by_env = CliRunner().invoke(cli, ["serve"], env=_env(sqlite_url, HUB_PORT=value))
    assert by_env.exit_code == 1
    assert one_line(by_env) == (f"Error: HUB_PORT is '{value}': set it to the port to listen on, a whole number from 1 "
                                "to 65535, e.g. 8000 (or unset it; hub serve --port N overrides it)")
    assert "--port" not in by_env.stderr.split("(")[0]  # it was not --port that was wrong


@pytest.mark.parametrize("args, env, named", [(["PORT=abc"], {}, "PORT is 'abc'"), (["PORT=70000"], {}, "PORT is '70000'"),
                                              ([], {"HUB_PORT": "abc"}, "HUB_PORT is 'abc'")])
def test_make_run_with_a_port_that_is_not_one_stops_before_anything_runs(args: list[str], env: dict[str, str],
                                                                          named: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_") and k != "PORT"}
    result = subprocess.run(["make", "-n", "run", *args], cwd=ROOT, env=base | env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "hub serve" not in result.stdout and "pip install" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if "***" in line]
    assert len(errors) == 1 and f"{named}: make run needs a port number from 1 to 65535" in errors[0], result.stderr


# 2. a database that cannot be opened, for every command that opens it

UNOPENABLE = ["sqlite:////nonexistent/dir/x.db", "postgresql+psycopg://hub:secret-pw@127.0.0.1:{port}/x"]
COMMANDS = [["simulate", "slack", "hello"], ["serve"], ["worker"], ["scheduler"], ["retry"], ["ask", "--local", "hi"],
            ["kb", "import", "."], ["kb", "list"], ["kb", "remove", "x.md"], ["kb", "index"], ["kb", "calibrate", "--reset"],
            ["kb", "sync"]]


@pytest.mark.parametrize("url", UNOPENABLE, ids=["sqlite-no-folder", "postgresql-closed-port"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_on_a_database_that_cannot_be_opened_is_one_line_naming_the_setting(url: str,
                                                                                          command: list[str]) -> None:
    url = url.format(port=_closed_port())
    result = CliRunner().invoke(cli, command, env=_env(url))
    assert result.exit_code == 1, result.output
    line = one_line(result)
    assert line.startswith("Error: ") and "HUB_DATABASE_URL" in line and "secret-pw" not in line
    assert "Knowledge base:" not in result.stdout  # simulate used to fall back to the sample KB and exit 0


def test_a_command_run_outside_the_hubs_folder_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a new terminal, elsewhere than where `make run` made var/hub.db
    result = CliRunner().invoke(cli, ["kb", "list"], env=_env("", HUB_DATABASE_URL=None))
    assert result.exit_code == 1
    assert one_line(result) == (f"Error: there is no database at var/hub.db (in {tmp_path}, where the command runs), nor a "
                                "folder var: run the command from the hub's folder, check HUB_DATABASE_URL (an absolute "
                                "path: sqlite:////srv/hub/var/hub.db), or run `hub db upgrade` to create it there")


def test_simulate_without_a_database_yet_still_tries_the_sample_kb(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "slack", "I want a refund", "--json"],
                                env=_env(f"sqlite:///{tmp_path / 'not-yet.db'}"))
    assert result.exit_code == 0, result.output
    assert "sample knowledge base" in result.stdout and not (tmp_path / "not-yet.db").exists()


# 3. hub kb sync with nothing to sync

def test_kb_sync_without_a_knowledge_source_says_what_to_configure(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["kb", "sync"], env=_env(sqlite_url))
    assert result.exit_code == 1  # it exited 0 saying "no configured connector is a knowledge source"
    line = one_line(result)
    assert line.startswith("Error: no knowledge source is configured: set ZENDESK_URL + ZENDESK_EMAIL + "
                           "ZENDESK_API_TOKEN for Zendesk Help Center"), line
    assert "hub kb import PATH" in line


# 4. counts as people write them

def test_plural() -> None:
    assert [plural(n, "article") for n in (0, 1, 2)] == ["0 articles", "1 article", "2 articles"]
    assert plural(1, "reply", "replies") == "1 reply" and plural(3, "reply", "replies") == "3 replies"


def test_one_article_is_one_article_in_every_kb_command(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "reset.md").write_text("---\ntitle: Reset your password\n---\nClick Forgot password.\n",
                                              encoding="utf-8")
    env, run = _env(sqlite_url), CliRunner()
    imported = run.invoke(cli, ["kb", "import", str(tmp_path / "kb")], env=env)
    assert imported.exit_code == 0 and f"imported 1 article from {tmp_path / 'kb'}" in imported.stdout  # "1 articles"
    listed = run.invoke(cli, ["kb", "list"], env=env)
    assert "[1 section, 1 passage]" in listed.stdout and listed.stderr.startswith("1 article (KB ")
    assert ": 1 article, 1 passage)" in listed.stderr
    unknown = run.invoke(cli, ["kb", "list", "--source", "html"], env=env)
    assert "sources: markdown (1 article)" in unknown.stderr
    removed = run.invoke(cli, ["kb", "remove", "reset.md"], env=env)
    assert removed.exit_code == 0 and "1 article removed" in removed.stdout


def test_no_output_counts_things_with_a_parenthesised_s() -> None:
    """"1 write(s)", "rating(s)": the CLI, the dashboard and its pages say "1 write", "2 writes"."""
    sources = [*ROOT.glob("surfaces/**/*.py"), *ROOT.glob("interceptor/**/*.py"),
               *ROOT.glob("surfaces/http/dashboard/static/*.js"), *ROOT.glob("surfaces/http/dashboard/templates/**/*.html")]
    found = [f"{path.relative_to(ROOT)}:{n}" for path in sources
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\}\s?[a-z][a-z ]*[a-z]\(s\)", line)]  # a count, then a noun with "(s)"
    assert not found, found


# 5. hub serve with no writable temporary folder for its metrics

def test_serve_without_a_writable_temp_folder_serves_and_says_what_metrics_it_counts(sqlite_url: str,
                                                                                     tmp_path: Path) -> None:
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PROMETHEUS_"))}
    env |= {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off", "HUB_PORT": str(port)}
    # tempfile.tempdir is what TMPDIR (or /tmp) resolved to; here it names a folder that cannot be written
    start = "import sys, tempfile; tempfile.tempdir = '/nonexistent/tmp'; from surfaces.cli import main; main()"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", start, "serve"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while "hub serving on" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()  # it used to stop with a FileNotFoundError traceback
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    text = log.read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text
    assert ("warning: no writable temporary folder for the metrics of hub serve's two processes "
            "(/nonexistent/tmp/hub-metrics-") in text
    assert "/metrics counts the web process only; set TMPDIR to a writable folder, or PROMETHEUS_MULTIPROC_DIR" in text


@pytest.mark.parametrize("under", ["file", "file/metrics"])
def test_metrics_clear_on_a_folder_it_cannot_make_is_one_line(tmp_path: Path, under: str) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(cli, ["metrics", "clear"], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / under)})
    assert result.exit_code == 1  # a FileExistsError or NotADirectoryError traceback
    assert one_line(result).startswith(f"Error: PROMETHEUS_MULTIPROC_DIR={tmp_path / under}: cannot create or empty it (")
    assert result.stderr.rstrip().endswith("set it to a folder this user can write in, e.g. /run/hub-metrics")


# 6. the first hour's other mistakes: an empty folder, a malformed pack, a malformed history, an empty KB

def _kb(tmp_path: Path) -> Path:
    (tmp_path / "kb").mkdir(exist_ok=True)
    (tmp_path / "kb" / "reset.md").write_text("---\ntitle: Reset your password\n---\nClick Forgot password.\n",
                                              encoding="utf-8")
    return tmp_path / "kb"


PACK = ('{"format": "helpdesk-bench/v1", "name": "t", "articles": [{"id": "a1", "title": "Reset your password", '
        '"body": "Click Forgot password.", "questions": []}], "queries": [%s]}')
QUERY = '{"id": "q1", "split": "test", "text": "reset my password", "expected_article_id": "a1"}'


@pytest.mark.parametrize("content, message", [
    (b"", "found no articles in"),  # an empty folder: it said "imported 0 articles" and exited 0
    (b'{"format": "helpdesk-bench/v1", "name": "\xff"}', "pack.json: not UTF-8 text (byte 41"),  # a traceback
    (b'{"format": "helpdesk-bench/v1", "articles": [{"title": "x"}]}', "pack.json: article 1 has no `id`"),  # KeyError
    (b'{"format": "helpdesk-bench/v1", "articles": {"a": 1}}', "pack.json: `articles` must be a list"),  # AttributeError
])
def test_kb_import_of_an_empty_folder_or_a_malformed_pack_is_one_line(sqlite_url: str, tmp_path: Path, content: bytes,
                                                                     message: str) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    if content:
        (folder / "pack.json").write_bytes(content)
    result = CliRunner().invoke(cli, ["kb", "import", str(folder)], env=_env(sqlite_url))
    assert result.exit_code == 1 and message in one_line(result), result.output


@pytest.mark.parametrize("content, message", [
    (None, "has no pack.json: PACK_DIR is a folder holding a bench pack's pack.json"),  # "[Errno 2] No such file"
    ((PACK % QUERY)[:60].encode(), "pack.json: not JSON (Unterminated string starting at: line 1 column 60 (char 59); a truncated file?)"),
    (b'{"format": "helpdesk-bench/v9"}', "not a helpdesk-bench/v1 or helpdesk-bench/v2 pack (its format is 'helpdesk-bench/v9')"),
    ((PACK % QUERY.replace('"a1"}', '"nope"}')).encode(),  # counted as a wrong answer, silently
     "pack.json: query 'q1' expects article 'nope', which is not one of the pack's articles"),
    ((PACK % QUERY.replace('"split": "test", ', "")).encode(), "query 'q1': `split` is None, not \"calibration\" or \"test\""),
    (b'{"format": "helpdesk-bench/v1", "x": "\xff"}', "pack.json: not UTF-8 text"),
    ((PACK % QUERY.replace('"test"', '"calibration"')).encode(),  # an IndexError in the metrics
     'pack.json: no query has split "test": hub eval measures the test split'),
    ((PACK % QUERY).replace('"questions": []', '"sections": ["Click Forgot password."]').encode(),  # a TypeError
     "pack.json: article 'a1': section 1 must be an object ({id, heading, text})"),
    ((PACK % QUERY.replace('"a1"}', '"a1", "expected_section_ids": [{"id": "s1"}]}')).encode(),  # unhashable
     "pack.json: query 'q1': `expected_section_ids` must be a list of section ids or null"),
])
def test_eval_of_a_missing_or_malformed_pack_is_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    (tmp_path / "pack").mkdir()
    if content is not None:
        (tmp_path / "pack" / "pack.json").write_bytes(content)
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "pack")], env=_env(f"sqlite:///{tmp_path / 'unused.db'}"))
    assert result.exit_code == 1 and message in one_line(result), result.output


def test_eval_measures_a_pack_with_flaws_and_says_them(tmp_path: Path) -> None:
    sections = '"sections": [{"id": "s1", "heading": "Steps", "text": "Click Forgot password."}, {"text": "No id."}]'
    query = QUERY.replace('"a1"}', '"a1", "expected_section_ids": ["s9"]}')
    pack = (PACK % f"{query}, {query}").replace('"questions": []', sections).replace("v1", "v2")
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.json").write_text(pack, encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "pack"), "--json"], env=_env(f"sqlite:///{tmp_path / 'unused.db'}"))
    assert result.exit_code == 0, result.output
    warnings = ["query 'q1' is listed twice: the later one is measured",
                "query 'q1' expects section 's9', which is not one of the pack's sections: no answer to it can count as right"]
    assert json.loads(result.stdout)["pack_warnings"] == warnings + warnings[1:]
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [f"warning: {w}" for w in warnings + warnings[1:]]


def test_eval_refuses_a_details_file_it_could_not_write_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.json").write_text(PACK % QUERY, encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "pack"), "--details", "/nonexistent/d.jsonl"],
                                env=_env(f"sqlite:///{tmp_path / 'unused.db'}"))
    assert result.exit_code == 2 and "'--details': /nonexistent is not a folder this command can write in" in result.stderr
    assert "Traceback" not in result.output and "indexed" not in result.stderr  # it ran the whole pack, then a traceback


@pytest.mark.parametrize("name, content, message", [
    ("h.csv", b"foo,bar\nx,y\n", "h.csv: the header row has no `text` column (it reads 'foo', 'bar')"),  # "h.csv:2: no text"
    ("h.csv", b"text;article\nreset;reset.md\n", "the header row has no `text` column (it reads 'text;article')"),
    ("h.csv", b"text,article\nhow do I, reset,reset.md\n", "h.csv:2: more fields than the header names: quote a text"),
    ("h.csv", b'text,article\n"never closed,reset.md\n', "h.csv: not CSV (unexpected end of data"),
    ("h.csv", b"\xff,\x80\n", "h.csv: not UTF-8 text (byte 0: invalid start byte): save it as UTF-8"),  # no file named
    ("h.csv", b"", "h.csv holds no past tickets"),  # "calibration needs at least 10 past requests"
    ("h.jsonl", b"[1, 2]\n", "h.jsonl:1: not a JSON object"),  # AttributeError traceback
])
def test_kb_calibrate_on_a_malformed_history_is_one_line(sqlite_url: str, tmp_path: Path, name: str, content: bytes,
                                                         message: str) -> None:
    env = _env(sqlite_url)
    assert CliRunner().invoke(cli, ["kb", "import", str(_kb(tmp_path))], env=env).exit_code == 0
    (tmp_path / name).write_bytes(content)
    result = CliRunner().invoke(cli, ["kb", "calibrate", str(tmp_path / name)], env=env)
    assert result.exit_code == 1 and message in one_line(result), result.output


def test_ask_on_an_empty_knowledge_base_says_to_import_one(sqlite_url: str) -> None:
    result = CliRunner().invoke(cli, ["ask", "How do I reset my password?"], env=_env(sqlite_url))
    assert result.exit_code == 0 and "no_candidate" in result.stdout
    assert "(the knowledge base is empty: nothing can be answered until you import articles with `hub kb import PATH`" \
        in result.stderr


def test_ask_answered_by_a_server_on_an_empty_knowledge_base_says_to_import_one(hub: Hub) -> None:
    with served(create_app(hub=hub)) as url:  # `make run`'s server before `hub kb import` (or on another database)
        result = CliRunner().invoke(cli, ["ask", "How do I reset my password?"], env=_env("sqlite:///unused.db", HUB_URL=url))
    assert result.exit_code == 0 and "no_candidate" in result.stdout
    assert f"(answered by the hub server at {url})" in result.stderr  # and nothing more: why nothing matched was not said
    assert "(the knowledge base is empty: nothing can be answered until you import articles with `hub kb import PATH`" \
        in result.stderr


# 7. serve's and worker's numbers, and a host that is not this machine's

def test_serve_threads_and_worker_concurrency_below_one_are_usage_errors(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'none.db'}")  # no database: the old code got past the option and said so
    served = CliRunner().invoke(cli, ["serve", "--threads", "0"], env=env)  # it served, and never answered a request
    assert served.exit_code == 2 and "Invalid value for '--threads': 0 is not in the range 1<=x<=1000" in served.stderr
    worker = CliRunner().invoke(cli, ["worker", "--concurrency", "-1"], env=env)
    assert worker.exit_code == 2 and "Invalid value for '--concurrency': -1 is not in the range" in worker.stderr


@pytest.mark.parametrize("host", ["no-such-host.invalid", "203.0.113.7"])  # a name that does not resolve; another's address
def test_serve_on_a_host_that_is_not_this_machines_names_the_host(sqlite_url: str, host: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", str(_closed_port())], env=_env(sqlite_url))
    assert result.exit_code == 1
    line = one_line(result)
    assert line.startswith(f"Error: cannot listen on {host}:") and "choose another port" not in line  # the port was fine
    assert line.endswith("(--host (or HUB_HOST) must be an address of this machine: 127.0.0.1, or 0.0.0.0 for every "
                         "interface)"), line


# 8. a settings value or file that the boot cannot use: one line naming it, never a traceback

@pytest.mark.parametrize("setting, file, message", [
    ({"HUB_RATE_LIMIT_STORAGE": "memcache://:pw@127.0.0.1/"}, None,  # limits' ConfigurationError at the web app's build
     "HUB_RATE_LIMIT_STORAGE: memcache:// is not a rate-limit store: memory:// (each process counts alone) or "
     "redis://host:6379/0 (shared), or unset it"),
    ({"HUB_QUEUE": "celery", "HUB_BROKER_URL": "reddis://:pw@127.0.0.1:6379/0"}, None,  # hub worker: KeyError traceback
     "HUB_BROKER_URL: the broker is Redis or RabbitMQ, not reddis://: e.g. redis://127.0.0.1:6379/0"),
    ({}, b"HUB_DRY_RUN: [\n",  # PyYAML's four-line message, with a caret
     "is not YAML (line 2, column 1: expected the node content, but found '<stream end>')"),
    ({}, b"\xff\xfeH\x00U\x00B\x00", "is not UTF-8 text (byte 0): save it as UTF-8 YAML"),  # a UnicodeDecodeError traceback

    ({"HUB_DRYRUN": "true"}, None,  # ignored without a word: shadow mode stayed off
     "Error: the environment: HUB_DRYRUN is not a setting (did you mean HUB_DRY_RUN?): rename it, or unset it"),
    ({"HUB_DATABASE_URL": "postgresql+psycopg2://hub:pw@127.0.0.1/hub"}, None,  # ModuleNotFoundError traceback
     "HUB_DATABASE_URL: the hub talks to PostgreSQL through psycopg, not psycopg2"),
    ({"HUB_DATABASE_URL": "sqlite://var/hub.db"}, None,  # 'var' read as a host: ./hub.db, without a word
     "HUB_DATABASE_URL: sqlite://var/… reads 'var' as a host, not a folder: a file's path follows three slashes"),
])
def test_a_setting_the_boot_cannot_use_is_one_line(sqlite_url: str, tmp_path: Path, setting: dict[str, str],
                                                   file: bytes | None, message: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_"))}
    env |= {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off", **setting}
    if file is not None:
        (tmp_path / "hub.yaml").write_bytes(file)
        env["HUB_CONFIG"] = str(tmp_path / "hub.yaml")
    start = "from surfaces.cli import main; main()"  # the `hub` script: main() turns a ConfigError into its line
    result = subprocess.run([sys.executable, "-c", start, "kb", "list"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0] and ":pw@" not in lines[0], lines[0]


# 9. the README's command table shows every option the commands take

def _commands(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
    """Every command under ``group``, by its path (the groups import theirs on first use)."""
    found: list[tuple[str, click.Command]] = []
    with click.Context(group) as ctx:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            found += _commands(command, f"{path} {name}") if isinstance(command, click.Group) else [(f"{path} {name}", command)]
    return found


def test_the_readme_lists_every_option_of_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    usages = [m.group(1) for m in re.finditer(r"^\| (`hub .*?) \| ", readme, re.MULTILINE)]  # the table's first column
    missing, commands = [], _commands(cli, "hub")
    assert len(commands) >= 15  # serve ... simulate slack, metrics clear
    for path, command in commands:
        usage = next((u for u in usages if f"`{path} " in u or f"`{path}`" in u), None)
        assert usage is not None, f"{path} has no row in the README's table of commands"
        for option in command.params:
            listed = any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", usage) for n in option.opts)  # -v or --verbose
            if isinstance(option, click.Option) and not option.hidden and not listed:
                missing.append(f"{path} {option.opts[-1]}")  # --threads, --target-precision, --concurrency were not listed
    assert not missing, missing
