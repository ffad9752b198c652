"""``HUB_BROKER_QUEUE_PREFIX``: the names of a deployment's broker queues (``<prefix>.inbox``, ``<prefix>.outbox``),
so that two deployments on one broker each take only their own hand-offs. Read and refused like every setting;
what it does on a real broker is in ``tests/test_celery.py``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from core.celery_jobs import broker_queue, make_celery
from core.errors import ConfigError
from tests.test_metrics_shared import BIN, ROOT, hub_env

SCALED = {"HUB_QUEUE": "celery", "HUB_BROKER_URL": "redis://127.0.0.1:1/0"}


@pytest.mark.parametrize("value, prefix", [
    (None, "hub"),  # unset: the queue names of every deployment before the setting
    ("hub-staging", "hub-staging"),
    ("prod.eu-1:hub_2", "prod.eu-1:hub_2"),
    ("x" * 100, "x" * 100),
    ("amqp", "amqp"),  # only amq. itself is RabbitMQ's
])
def test_the_prefix_names_the_broker_queues(value: str | None, prefix: str) -> None:
    settings = load_settings({**SCALED, **({} if value is None else {"HUB_BROKER_QUEUE_PREFIX": value})})
    assert settings.broker_queue_prefix == prefix
    app = make_celery(settings.broker_url or "", settings.broker_queue_prefix)
    assert (broker_queue(app, "inbox"), broker_queue(app, "outbox")) == (f"{prefix}.inbox", f"{prefix}.outbox")


@pytest.mark.parametrize("value, why", [
    ("", "not 1 to 100"),  # refused, not read as unset: the default would be another deployment's queues
    ("   ", "not 1 to 100"),
    (" hub", "not 1 to 100"),
    ("hub staging", "not 1 to 100"),
    ("hub\n", "not 1 to 100"),
    ("hub/staging", "not 1 to 100"),
    ("hub*", "not 1 to 100"),
    ("höb", "not 1 to 100"),
    ("x" * 101, "not 1 to 100"),
    ("amq", "RabbitMQ reserves"),
    ("amq.hub", "RabbitMQ reserves"),
    (5, "Not a valid string"),  # a YAML file's number
])
def test_a_bad_prefix_stops_the_boot_naming_the_variable(value: Any, why: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid configuration: HUB_BROKER_QUEUE_PREFIX: .*{why}"):
        load_settings({**SCALED, "HUB_BROKER_QUEUE_PREFIX": value})


def test_the_inline_mode_reads_and_checks_it_too() -> None:
    # one configuration file for both modes: a bad value is found before the day it is scaled out
    assert load_settings({"HUB_BROKER_QUEUE_PREFIX": "hub-staging"}).broker_queue_prefix == "hub-staging"
    with pytest.raises(ConfigError, match="HUB_BROKER_QUEUE_PREFIX"):
        load_settings({"HUB_BROKER_QUEUE_PREFIX": "hub staging"})


@pytest.mark.parametrize("queues", ["hub.inbox", "inbox,hub.outbox", "inbox,outbx", ","])
def test_hub_worker_refuses_a_queue_that_is_not_a_hub_queue(tmp_path: Path, sqlite_url: str, queues: str) -> None:
    # a broker queue's name would be consumed under the prefix again (hub-staging.hub.inbox), or dropped unsaid
    env = hub_env(tmp_path, HUB_DATABASE_URL=sqlite_url, HUB_BROKER_QUEUE_PREFIX="hub-staging", **SCALED)
    done = subprocess.run([str(BIN / "hub"), "worker", "--queues", queues], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--queues takes inbox, outbox or both" in done.stderr, done.stderr[-2000:]
