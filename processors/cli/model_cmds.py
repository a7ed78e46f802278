"""``neuralpipe model ...``: one group; its commands live in three modules.

* ``model_artifact_cmds``: build, inspect, predict (artifacts and runtimes).
* ``model_registry_cmds``: list, register, deploy, undeploy (the ml-commons-shaped registry).
* ``model_fetch_cmd``: fetch (a pretrained catalog model, downloaded and verified).
"""

from __future__ import annotations

import importlib

import click

_COMMANDS = {
    "build": "processors.cli.model_artifact_cmds",
    "inspect": "processors.cli.model_artifact_cmds",
    "predict": "processors.cli.model_artifact_cmds",
    "fetch": "processors.cli.model_fetch_cmd",
    "list": "processors.cli.model_registry_cmds",
    "register": "processors.cli.model_registry_cmds",
    "deploy": "processors.cli.model_registry_cmds",
    "undeploy": "processors.cli.model_registry_cmds",
}


class _LazyModelGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        try:
            command: click.Command = getattr(importlib.import_module(module), cmd_name)
        except (ImportError, AttributeError):
            return None
        return command


@click.group(cls=_LazyModelGroup)
def model() -> None:
    """Models: build OpenSearch model zips, run them, register them ml-commons style."""
