"""The YAML file named by ``HUB_CONFIG``: a mapping of setting names (the environment's) to values.

Every key in it must be a setting the hub reads: a typo (``HUB_TARGET_PRECISON``, ``hub_dry_run``) would
otherwise leave its setting at the default without a word, so the file is refused, naming the key and the
setting it most likely means. The environment is shared with other programs, so only a ``HUB_`` name there that
is a typo of a setting is refused (:func:`misspelt_in_environment`).
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Collection, Mapping

import yaml

from core.errors import ConfigError

# Read by the commands themselves, from the environment only (``hub serve --host/--port``, ``hub ask``).
ENVIRONMENT_ONLY = ("HUB_CONFIG", "HUB_HOST", "HUB_PORT", "HUB_URL")


def read_config_file(path: str, keys: Collection[str]) -> dict[str, Any]:
    """Read the settings file at ``path``.

    Args:
        path: the value of ``HUB_CONFIG``.
        keys: every setting name the hub reads (``config.settings.setting_keys``).

    Returns:
        The file's settings, by name.

    Raises:
        ConfigError: the file cannot be read, is not a mapping, or holds a key that is not one of ``keys``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"HUB_CONFIG: cannot read {path}: {e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"HUB_CONFIG: {path} is not UTF-8 text (byte {e.start}): save it as UTF-8 YAML") from e
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"HUB_CONFIG: {path} is not YAML ({_yaml_problem(e)})") from e
    if not isinstance(loaded, dict):
        raise ConfigError(f"HUB_CONFIG: {path} must hold a mapping of setting names to values")
    values = {str(k): v for k, v in loaded.items()}
    unknown = [key for key in values if key not in keys]
    if unknown:
        raise ConfigError(f"HUB_CONFIG: {path}: {'; '.join(_unknown(key, keys) for key in unknown)}")
    return values


def misspelt_in_environment(environ: Mapping[str, str], keys: Collection[str]) -> None:
    """Refuse a ``HUB_`` name in the environment that is not a setting but one typo from one.

    ``HUB_TARGET_PRECISON=0.8`` or ``HUB_DRYRUN=true`` would otherwise leave the setting at its default without a
    word (shadow mode off). Only the hub's own prefix, and only names close to a setting: other ``HUB_`` names
    (the test suite's ``HUB_TEST_POSTGRES_URL``) and the vendors' prefixes, which other tools share, pass.

    Raises:
        ConfigError: naming each such variable and the setting it most likely means.
    """
    known = {*keys, *ENVIRONMENT_ONLY}
    found = []
    for name in sorted(environ):
        if not name.upper().startswith("HUB_") or name in known:
            continue
        close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.8)
        if close:
            found.append(f"{name} is not a setting (did you mean {close[0]}?)")
    if found:
        raise ConfigError(f"the environment: {'; '.join(found)}: rename it, or unset it")


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error on one line: what is wrong and where (its own message spans several, with a caret)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def _unknown(key: str, keys: Collection[str]) -> str:
    """Why ``key`` is refused, with the setting it most likely means."""
    if key in ENVIRONMENT_ONLY:
        return f"{key} is read from the environment only: set it there, not in this file"
    close = difflib.get_close_matches(key.upper(), sorted(keys), n=1, cutoff=0.8)
    return f"{key} is not a setting" + (f" (did you mean {close[0]}?)" if close else "")
