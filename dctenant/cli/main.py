"""The ``dctenant`` command group and the single place where errors become messages and exit codes.

Commands are imported only when they run (``LazyGroup``), so ``dctenant --help`` stays fast.
Exit codes: 0 ok, 1 error, 2 usage, 3 changes pending / shortfalls / violations with ``--exit-code``,
4 a required tool or optional extra is not installed (one line that says what to install).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from dctenant import __version__

COMMANDS = {
    "validate": ("dctenant.cli.commands.validate", "Check quotas/ and report every problem."),
    "show": ("dctenant.cli.commands.show", "Show the data centre: pools, capacity and tenants."),
    "plan": ("dctenant.cli.commands.plan", "Divide free capacity fairly among tenants and explain it."),
    "render": ("dctenant.cli.commands.render", "Write every pool's Kubernetes manifests to a directory."),
    "diff": ("dctenant.cli.commands.diff", "Compare the desired namespaces with a live cluster."),
    "apply": ("dctenant.cli.commands.apply", "Apply the desired namespaces to the clusters (server-side apply)."),
    "stack": ("dctenant.cli.commands.stack", "Run the Pulumi stack of a pool (preview, up, refresh)."),
    "enforce": ("dctenant.cli.commands.enforce", "Measure usage in Prometheus and act on breaches (dry-run default)."),
    "audit": ("dctenant.cli.commands.audit", "Show and verify the hash-chained audit ledger."),
    "snapshot": ("dctenant.cli.commands.snapshot", "Store a period's usage rollups from Prometheus in the ledger."),
    "report": ("dctenant.cli.commands.report", "Auditors' reports: allocation, usage, traffic, violations, licences."),
    "serve": ("dctenant.cli.commands.serve", "Serve the self-service API for tenants and staff."),
    "token": ("dctenant.cli.commands.token", "Create, list and revoke self-service API tokens."),
    "ns": ("dctenant.cli.commands.ns", "Tenants' own namespaces through the self-service API."),
    "request": ("dctenant.cli.commands.request", "File a quota-increase request through the self-service API."),
    "dashboards": ("dctenant.cli.commands.dashboards", "Generate the Grafana dashboards into dashboards/."),
    "reclaim": ("dctenant.cli.commands.reclaim", "Idle envelope per tenant, and proposals to reclaim it."),
    "forecast": ("dctenant.cli.commands.forecast", "When each pool runs out: demand and usage trends with intervals."),
    "completion": ("dctenant.cli.commands.completion", "Print the shell completion script (bash, zsh or fish)."),
}

EXIT_MISSING_TOOL = 4

# Optional dependencies live in extras (pyproject.toml) so that the bare package stays small. A
# command that needs one imports it lazily; when it is absent the user gets one line naming the
# extra instead of a traceback. The keys are top-level import names, the values extras.
EXTRAS = {
    "fastapi": "serve",
    "starlette": "serve",
    "pydantic": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
    "grafana_foundation_sdk": "dashboards",
    "pulumi": "stacks",
    "pulumi_kubernetes": "stacks",
    "pulumi_policy": "stacks",
    "kmock": "sandbox",
    "prometheus_client": "sandbox",
}


class LazyGroup(click.Group):
    """A group that imports each command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command: click.Command = module.command
        _attach_completion(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the table above, so that --help imports no command module.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])


def _attach_completion(command: click.Command) -> None:
    """Let every ``--pool``/``--tenant``/``--explain`` complete from quotas/, in whichever command it is.

    Click has no public setter for a parameter's completion after it is built; ``_custom_shell_complete``
    is what ``shell_complete=`` sets (click 8.x), and a parameter with its own completion keeps it.
    """
    from dctenant.cli import options

    for param in command.params:
        completer = options.COMPLETERS.get(param.name or "")
        if isinstance(param, click.Option) and completer and param._custom_shell_complete is None:
            param._custom_shell_complete = completer
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _attach_completion(sub)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dctenant")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """dctenant: fair capacity, namespaces and quotas for the tenants of a data centre."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn dctenant's errors into red lines on stderr and exit 1."""
    from dctenant.errors import DctenantError, ValidationError

    try:
        cli.main(args=argv, prog_name="dctenant", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except ModuleNotFoundError as exc:
        if _debug(argv):
            raise
        click.secho(missing_module(exc, argv=sys.argv[1:] if argv is None else argv), fg="red", err=True)
        sys.exit(EXIT_MISSING_TOOL)
    except DctenantError as exc:
        if _debug(argv):
            raise
        lines = [str(p) for p in exc.problems] if isinstance(exc, ValidationError) else [str(exc)]
        for line in lines:
            click.secho(line, fg="red", err=True)
        if isinstance(exc, ValidationError):
            click.secho(str(exc.message), fg="red", bold=True, err=True)
        sys.exit(1)
    sys.exit(0)


def missing_module(exc: ModuleNotFoundError, *, argv: list[str]) -> str:
    """One line saying which extra to install for the module that could not be imported."""
    module = (exc.name or "").split(".")[0]
    command = next((a for a in argv if a in COMMANDS), "this command")
    extra = EXTRAS.get(module)
    if extra is None:
        return (f"dctenant {command} needs the Python module {module!r}, which is not installed; "
                "reinstall dctenant: pip install dctenant")
    return (f"dctenant {command} needs the {extra!r} extra ({module} is not installed): "
            f"pip install 'dctenant[{extra}]'")


def _debug(argv: list[str] | None) -> bool:
    args: Any = sys.argv[1:] if argv is None else argv
    return bool(os.environ.get("DCTENANT_DEBUG")) or "-v" in args or "--verbose" in args
