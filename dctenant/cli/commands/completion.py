"""``dctenant completion bash|zsh|fish``: print the shell's completion script.

Completion itself runs ``dctenant`` with ``_DCTENANT_COMPLETE`` set (click's protocol); pools and
tenants are completed from the quotas directory on the command line (or the default one).
"""

from __future__ import annotations

import sys

import click

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(dctenant completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(dctenant completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "dctenant completion fish > ~/.config/fish/completions/dctenant.fish",
}


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> None:
    """Print the completion script of SHELL; install it with e.g. eval "$(dctenant completion bash)".

    Commands, options, pools (--pool) and tenants (--tenant, --explain) complete; pools and tenants
    are read from the PATH on the command line, else quotas/ or $DCTENANT_QUOTAS.
    """
    from click.shell_completion import get_completion_class

    from dctenant.cli import main

    completion = get_completion_class(shell)
    if completion is None:  # click knows every shell in SHELLS; this guards a future click
        raise click.BadParameter(f"click has no completion for {shell}", param_hint="SHELL")
    click.echo(completion(main.cli, {}, "dctenant", "_DCTENANT_COMPLETE").source())
    if sys.stdout.isatty():  # someone reading it, not `eval "$(…)"` at every shell start
        click.echo(f"# install: {INSTALL[shell]}", err=True)
