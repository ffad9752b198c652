"""An admin's Ctrl-C in the middle of a command: a real process and a real SIGINT, as a terminal sends it. The
command says what it left and how to finish, never "Aborted!" alone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import cli
from core.db import EmbeddingRow
from tests.test_cli import count_rows
from tests.test_cli_first_hour import ROOT, _env


def test_ctrl_c_during_an_import_says_what_was_stored_and_how_to_finish(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(3000):  # stored at most 200 (and 0.2 s) a transaction: long enough to be stopped part way
        (folder / f"a{n:04}.md").write_text(f"---\ntitle: Article {n}\n---\n# Steps\nStep {n} of the guide.\n",
                                            encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_"))}
    env |= {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    start = "from surfaces.cli import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", start, "kb", "import", str(folder)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a terminal's Ctrl-C
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first transaction is stored
    assert re.match(r"  ([1-9]\d*)/3000 articles read", first) and int(first.split("/")[0]) <= 200, first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err  # it said "Aborted!", and what it kept went unsaid
    last = [line for line in err.splitlines() if line.strip()][-1]
    stored = re.fullmatch(r"Error: interrupted: (\d+) of 3000 articles were stored, the rest not \(a running server "
                          r"serves those now\): run the same `hub kb import` again to finish; the stored ones are "
                          r"skipped as unchanged", last)
    assert stored is not None, err
    listed = CliRunner().invoke(cli, ["kb", "list"], env=_env(sqlite_url))
    assert listed.stderr.startswith(f"{stored.group(1)} articles (KB ")  # what it says is what the KB holds
    again = CliRunner().invoke(cli, ["kb", "import", str(folder)], env=_env(sqlite_url))
    assert again.exit_code == 0 and f"{3000 - int(stored.group(1))} new or changed, {stored.group(1)} unchanged" in again.stdout


def _stop_index_after_its_first_progress_line(sqlite_url: str) -> tuple[int | None, str]:
    """Run ``hub kb index`` in a process of its own, send it Ctrl-C once it has stored its first vectors, and
    return its exit code and its last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_"))}
    env |= {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "on"}
    proc = subprocess.Popen([sys.executable, "-c", "from surfaces.cli import main; main()", "kb", "index"], cwd=ROOT,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a terminal's Ctrl-C
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first 1,024 vectors are stored
    assert re.fullmatch(r"  1024/\d+ texts embedded\n", first), first + proc.communicate(timeout=120)[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode, [line for line in err.splitlines() if line.strip()][-1]


def test_ctrl_c_during_kb_index_says_how_many_vectors_it_kept_and_the_same_command_resumes(sqlite_url: str,
                                                                                           tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(1000):  # 3,000 texts to embed (title, passage, heading): stored 1,024 at a time
        (folder / f"a{n:04}.md").write_text(f"---\ntitle: Article {n}\n---\n# Steps\nStep {n} of the guide.\n",
                                            encoding="utf-8")
    assert CliRunner().invoke(cli, ["kb", "import", str(folder)], env=_env(sqlite_url)).exit_code == 0

    code, last = _stop_index_after_its_first_progress_line(sqlite_url)
    assert code == 130, last  # it said "Aborted!" (exit 1), and what it kept went unsaid
    kept = re.fullmatch(r"Error: interrupted: (\d+) of the 3000 texts to embed were embedded and their vectors stored, "
                        r"the rest not: run `hub kb index` again to embed the other (\d+) \(what is stored is not "
                        r"embedded again\)", last)
    assert kept is not None, last
    stored = int(kept.group(1))
    assert count_rows(sqlite_url, EmbeddingRow) == stored and int(kept.group(2)) == 3000 - stored  # what it says is what is kept

    code, last = _stop_index_after_its_first_progress_line(sqlite_url)  # the same command carries on
    assert code == 130 and f" of the {3000 - stored} texts to embed were embedded" in last, last

