"""``HUB_LOG_LEVEL`` is honoured by every ``hub`` command (``surfaces.cli.apply_hub_log_level``), not only by those
that build the services (``serve``, ``worker``, ``scheduler``): ``HUB_LOG_LEVEL=DEBUG hub kb import`` used to log
nothing below WARNING. It is read alone, before the command's other settings: a bad value is one line naming it,
and a command that reads no vendor settings does not start to. The real console script, in a subprocess.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli import ROOT, run_hub

SAMPLE_KB = ROOT / "config" / "sample_kb"
DEBUG_LINE = re.compile(r"^\S+ \S+ DEBUG interceptor\.\S+ interceptor\.kb\.import\.article source=markdown id=\S+ changed=(?:True|False)$", re.M)


def test_hub_log_level_debug_shows_the_hubs_debug_lines_in_kb_import(tmp_path: Path) -> None:
    assert run_hub("db", "upgrade", env={}, cwd=tmp_path).returncode == 0
    result = run_hub("kb", "import", str(SAMPLE_KB), env={"HUB_LOG_LEVEL": "debug"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(DEBUG_LINE.findall(result.stderr)) == len([p for p in SAMPLE_KB.glob("*.md") if p.name != "README.md"])
    assert re.search(r" INFO \S+ interceptor\.kb\.import seen=\d+ changed=\d+$", result.stderr, re.M)


def test_without_it_kb_import_logs_no_lines_and_with_v_info_ones(tmp_path: Path) -> None:
    assert run_hub("db", "upgrade", env={}, cwd=tmp_path).returncode == 0
    quiet = run_hub("kb", "import", str(SAMPLE_KB), env={}, cwd=tmp_path)
    verbose = run_hub("-v", "kb", "import", str(SAMPLE_KB), env={}, cwd=tmp_path)
    assert " INFO " not in quiet.stderr and " DEBUG " not in quiet.stderr
    assert " INFO " in verbose.stderr and " DEBUG " not in verbose.stderr
    debug_verbose = run_hub("-v", "kb", "import", str(SAMPLE_KB), env={"HUB_LOG_LEVEL": "DEBUG"}, cwd=tmp_path)
    assert DEBUG_LINE.search(debug_verbose.stderr), "-v lowers to INFO at most: it never hides what HUB_LOG_LEVEL asks for"


def test_hub_log_level_in_the_config_file_is_honoured_too(tmp_path: Path) -> None:
    config = tmp_path / "hub.yaml"
    config.write_text("HUB_LOG_LEVEL: DEBUG\n")
    assert run_hub("db", "upgrade", env={}, cwd=tmp_path).returncode == 0
    result = run_hub("kb", "import", str(SAMPLE_KB), env={"HUB_CONFIG": str(config)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert DEBUG_LINE.search(result.stderr)


def test_a_bad_hub_log_level_is_one_line_naming_it_for_any_command(tmp_path: Path) -> None:
    for args in (("db", "upgrade"), ("kb", "import", str(SAMPLE_KB)), ("eval", str(tmp_path))):
        result = run_hub(*args, env={"HUB_LOG_LEVEL": "loud"}, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr == ("Error: invalid configuration: HUB_LOG_LEVEL: 'loud' is not a level: DEBUG, INFO, WARNING, ERROR "
                                 "(e.g. DEBUG, or DEBUG,zenpy=DEBUG to also see what that SDK sends and receives)\n")


def test_it_requires_no_other_setting(tmp_path: Path) -> None:
    # A HUB_CONFIG file that cannot be read is the business of the commands that read it, not of the log level.
    result = run_hub("db", "upgrade", env={"HUB_LOG_LEVEL": "DEBUG"}, cwd=tmp_path)
    assert result.returncode == 0 and "database at 0" in result.stdout, result.stderr
    missing = run_hub("--help", env={"HUB_CONFIG": str(tmp_path / "absent.yaml")}, cwd=tmp_path)
    assert missing.returncode == 0, missing.stderr
