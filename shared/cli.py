"""`musicbot`: the operator's single entry point.

This is the composition root of the command line, so it may name every package; each
provider module is imported only to build the parser, and heavy imports happen inside the
subcommand that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

# argparse has no public name for the subparsers action (and it is not subscriptable at run
# time before Python 3.12, hence the string).
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# Subcommand providers: module path, each exposing register_cli(subparsers), and the
# subcommands it adds, so a slim install (the Lambda bundle) can say what is missing.
_PROVIDERS: dict[str, tuple[str, ...]] = {
    "interactions.cli": ("commands", "serve"),
    "voice_worker.cli": ("worker", "local", "demo", "resolve"),
    "fake_discord.cli": ("fake-discord",),
}


def _missing_extra(name: str) -> Callable[[argparse.Namespace], int]:
    def run(_: argparse.Namespace) -> int:
        sys.stderr.write(
            f"musicbot: this command needs '{name}', which is not installed here.\n"
            "Install the full bot with: pip install 'musicbot[local]'\n"
        )
        return 2

    return run


def _register(module_name: str, commands: tuple[str, ...], subparsers: SubParsers) -> None:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or module_name
        for command in commands:
            parser = subparsers.add_parser(command, help=f"(needs {missing})")
            parser.set_defaults(func=_missing_extra(missing))
        return
    module.register_cli(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every subcommand."""
    parser = argparse.ArgumentParser(prog="musicbot", description="Serverless Discord music bot")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name, commands in _PROVIDERS.items():
        _register(module_name, commands, subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand, returning its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
