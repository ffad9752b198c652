"""An admin's Ctrl-C in the middle of a command: a real process and a real SIGINT, as a terminal sends it. The
command says what it left and how to finish, never "Aborted!" alone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from app import cli
from tests.test_cli_first_hour import ROOT, _env


def test_ctrl_c_during_an_import_says_what_was_stored_and_how_to_finish(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    for n in range(3000):  # stored 200 a transaction: long enough to be stopped part way
        (folder / f"a{n:04}.md").write_text(f"---\ntitle: Article {n}\n---\n# Steps\nStep {n} of the guide.\n",
                                            encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SLACK_", "ZENDESK_", "JIRA_"))}
    env |= {"HUB_DATABASE_URL": sqlite_url, "HUB_DENSE": "off"}
    start = "from surfaces.cli import main; main()"
    proc = subprocess.Popen([sys.executable, "-c", start, "kb", "import", str(folder)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # a terminal's Ctrl-C
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first batch is stored
    assert first.startswith("  200/3000 articles read"), first
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
