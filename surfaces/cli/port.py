"""The port ``hub serve`` listens on and ``hub ask`` looks for (``--port``, ``HUB_PORT``): one rule and one
message for a value that is not a port, naming where it came from."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

DEFAULT_PORT = 8000
VALID = f"a whole number from 1 to 65535, e.g. {DEFAULT_PORT}"


def parse_port(value: Any) -> int | None:
    """``value`` as a port number, or ``None`` when it is not one (not a whole number, or outside 1-65535)."""
    text = str(value).strip()
    # ASCII digits only: "²".isdigit() is true and int() refuses it; int() reads "٣" as 3 (a server on port 3).
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not 1 <= int(text) <= 65535:
        return None
    return int(text)


class Port(click.ParamType):
    """``--port`` (or ``HUB_PORT``): a TCP port. A bad value names what was given and where: ``--port`` is a
    usage error; ``HUB_PORT`` from the environment is one line naming the variable (no usage text: the
    command line was right)."""

    name = "port"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
            return value
        port = parse_port(value)
        if port is not None:
            return port
        if ctx is not None and param is not None and param.name and \
                ctx.get_parameter_source(param.name) == ParameterSource.ENVIRONMENT:
            raise click.ClickException(f"HUB_PORT is {str(value)!r}: set it to the port to listen on, {VALID} "
                                       "(or unset it; hub serve --port N overrides it)")
        self.fail(f"{str(value)!r} is not a port: --port (or HUB_PORT) takes {VALID}", param, ctx)
