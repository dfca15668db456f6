"""CLI commands: keys set / list / remove / path (API keys in the user dir, never printed)."""

from __future__ import annotations

import sys

import click

from ..settings_sources import user_dir_from_env


@click.group("keys")
def keys_group() -> None:
    """API keys kept in the user dir (keys.json, readable by you only; $DIGEST_USER_DIR,
    else $XDG_CONFIG_HOME/digest, else ~/.config/digest).

    A key stored as `openai` (or `azure`) is used by that provider when no flag,
    environment variable, .env or config file gives one."""


@keys_group.command("set")
@click.argument("name")
@click.option(
    "--value",
    default=None,
    metavar="KEY|-",
    help="The key ('-': read it from stdin); default: prompt without echo, or read a piped stdin.",
)
def keys_set_cmd(name: str, value: str | None) -> None:
    """Store the API key NAME (e.g. openai): `digest keys set openai`."""
    from ..userdata.keys import KeyStore, check_name

    check_name(name)
    if value == "-" or (value is None and not sys.stdin.isatty()):
        value = sys.stdin.readline().strip()
    elif value is None:
        value = click.prompt(f"Enter the {name} key", hide_input=True, err=True)
    store = KeyStore(user_dir_from_env())
    store.set(name, value)
    click.echo(f"stored key {name} in {store.path}", err=True)


@keys_group.command("list")
def keys_list_cmd() -> None:
    """The names of the stored keys (never the keys)."""
    from ..userdata.keys import KeyStore

    for name in KeyStore(user_dir_from_env()).names():
        click.echo(name)


@keys_group.command("remove")
@click.argument("name")
def keys_remove_cmd(name: str) -> None:
    """Forget the key NAME."""
    from ..userdata.keys import KeyStore

    store = KeyStore(user_dir_from_env())
    if not store.remove(name):
        raise click.UsageError(f"no key named {name!r} in {store.path}")
    click.echo(f"removed key {name}", err=True)


@keys_group.command("path")
def keys_path_cmd() -> None:
    """Where the keys are stored."""
    from ..userdata.keys import KeyStore

    click.echo(str(KeyStore(user_dir_from_env()).path))


COMMANDS = [keys_group]
