"""CLI command: completion (click's shell completion, as a script to source)."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_cmd(ctx: click.Context, shell: str) -> None:
    """Print the completion script of SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(digest completion bash)"   # in ~/.bashrc
    zsh:   eval "$(digest completion zsh)"    # in ~/.zshrc
    fish:  digest completion fish > ~/.config/fish/completions/digest.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # every name in SHELLS is one of click's
    root = ctx.find_root()
    click.echo(cls(root.command, {}, "digest", "_DIGEST_COMPLETE").source())


COMMANDS = [completion_cmd]
