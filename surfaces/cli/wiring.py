"""The ``kb`` and ``eval`` commands, handed what they need (:mod:`surfaces.cli.kb` builds them)."""

from __future__ import annotations

import migrations
from surfaces.cli.kb import eval_command as make_eval_command
from surfaces.cli.kb import kb_group
from surfaces.services import build_services

kb_command = kb_group(build_services)
eval_command = make_eval_command(migrations.upgrade)
