"""``neuralpipe``: the click group, lazy subcommands and the error-to-exit-code boundary.

Exit codes: 0 ok, 1 runtime error (node, model, cluster, a file that cannot be read), 2 usage
or configuration error, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import click

from processors.errors import ConfigError, NeuralpipeError
from processors.settings import Settings

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
_SUBCOMMANDS = {
    "opensearch": ("processors.cli.opensearch_cmds", "opensearch"),
    "index": ("processors.cli.index_cmds", "index"),
    "model": ("processors.cli.model_cmds", "model"),
    "pipeline": ("processors.cli.pipeline_cmds", "pipeline"),
    "search": ("processors.cli.search_cmds", "search"),
    "serve": ("processors.cli.serve_cmd", "serve"),
    "eval": ("processors.cli.eval_cmds", "eval_cmd"),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_SUBCOMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _SUBCOMMANDS:
            module_name, attr = _SUBCOMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.UsageError(str(exc), ctx) from exc
        except NeuralpipeError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("interrupted; what was acknowledged is checkpointed (--resume)", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("opensearchpy"):
                raise click.ClickException(f"OpenSearch: {exc}") from exc
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url", envvar="NEURALPIPE_OPENSEARCH_URL", help="Use this cluster instead of the local node."
)
@click.option(
    "--username", envvar="NEURALPIPE_OPENSEARCH_USERNAME", help="Basic auth user for --url."
)
@click.option(
    "--password",
    envvar="NEURALPIPE_OPENSEARCH_PASSWORD",
    help="Basic auth password for --url (on the command line `ps` shows it: prefer the "
    "environment variable NEURALPIPE_OPENSEARCH_PASSWORD or --password-file).",
)
@click.option(
    "--password-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
    envvar="NEURALPIPE_OPENSEARCH_PASSWORD_FILE",
    help="Read the password from this file (first line), so it is not on the command line.",
)  # fmt: skip
@click.option(
    "--verify-certs/--no-verify-certs", default=True, envvar="NEURALPIPE_OPENSEARCH_VERIFY_CERTS",
    help="Verify TLS certificates of --url.",
)  # fmt: skip
@click.option(
    "--ca-certs", type=click.Path(path_type=Path), envvar="NEURALPIPE_OPENSEARCH_CA_CERTS",
    help="CA bundle for TLS to --url.",
)  # fmt: skip
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="NEURALPIPE_HOME",
    help="Cache and state directory.",
)
@click.option(
    "--pipelines-dir",
    type=click.Path(path_type=Path, file_okay=False),
    envvar="NEURALPIPE_PIPELINES_DIR",
    help="Folder with ingest/, search/ and models/ bodies (default: the project's pipelines/, "
    "wherever the command runs).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, /, verbose: int, **options: Any) -> None:
    """neuralpipe: OpenSearch neural search, sparse, hybrid and rerank, run in Python."""
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    if options["password_file"] is not None:
        if options["password"] is not None:
            raise click.UsageError("give --password or --password-file, not both", ctx)
        lines = options["password_file"].read_text(encoding="utf-8").splitlines()
        options["password"] = lines[0] if lines else ""
    overrides = {
        "opensearch_url": options["url"],
        "opensearch_username": options["username"],
        "opensearch_password": options["password"],
        "opensearch_verify_certs": options["verify_certs"],
        "opensearch_ca_certs": options["ca_certs"],
        "home": options["home"],
        "pipelines_dir": options["pipelines_dir"],
    }
    ctx.obj = Settings(**{k: v for k, v in overrides.items() if v is not None})


def main() -> None:
    """Console-script entry point."""
    cli()
