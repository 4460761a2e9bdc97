"""Typer groups whose sub-commands are imported only when one of them runs.

The command modules behind `sdqn` pull in OR-Tools, libyang, networkx, paramiko and gRPC
(about a second of imports), yet `sdqn --help` and a client command should answer at
once. A group built by `lazy_app` therefore lists its commands from a static table (name,
the first paragraph of the command's help, "module:attribute") and imports a command's
module only when click makes a context for that command, i.e. when it (or its --help)
is actually invoked. `tests/controller/test_cli_lazy.py` checks that every table entry's
help matches the help of the command it names.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

# Typer's default for every app here (`typer.Typer(pretty_exceptions_short=True)`).
_PRETTY_EXCEPTIONS_SHORT = True


@dataclass(frozen=True)
class Lazy:
    """A command function or a Typer sub-app, named by "module:attribute"."""

    target: str
    help: str  # the first paragraph of the target's help, as the group listing shows it

    def resolve(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


class LazyCommand(TyperCommand):
    """Stands in for a command in its group's listing; the real command replaces it as
    soon as click parses arguments for it (`make_context`), so it never runs itself."""

    def __init__(self, name: str, entry: Lazy, **attrs: Any) -> None:
        super().__init__(name=name, help=entry.help, **attrs)
        self.entry = entry
        self._real: Any = None

    def load(self) -> Any:
        """The click command (or group) the entry names, built as Typer would."""
        if self._real is None:
            target = self.entry.resolve()
            if isinstance(target, typer.Typer):
                self._real = get_group_from_info(
                    TyperInfo(target, name=self.name),
                    pretty_exceptions_short=_PRETTY_EXCEPTIONS_SHORT,
                    suggest_commands=True, rich_markup_mode=self.rich_markup_mode)
            else:
                self._real = get_command_from_info(
                    CommandInfo(name=self.name, callback=target),
                    pretty_exceptions_short=_PRETTY_EXCEPTIONS_SHORT,
                    rich_markup_mode=self.rich_markup_mode)
        return self._real

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None,
                     **extra: Any) -> Any:
        return self.load().make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """A group whose commands come from `table`, in its order: the static sub-groups
    Typer built from `add_typer`, and a `LazyCommand` for every `Lazy` entry."""

    table: ClassVar[Mapping[str, Lazy | typer.Typer]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        built = dict(self.commands)
        self.commands = {
            name: LazyCommand(name, entry, rich_markup_mode=self.rich_markup_mode)
            if isinstance(entry, Lazy) else built[name]
            for name, entry in self.table.items()}


def lazy_app(help: str, commands: Mapping[str, Lazy | typer.Typer]) -> typer.Typer:
    """A Typer app listing `commands` (in this order) without importing any of them."""
    group = type("LazyGroup", (LazyGroup,), {"table": dict(commands)})
    app = typer.Typer(cls=group, no_args_is_help=True, help=help)
    for name, entry in commands.items():
        if isinstance(entry, typer.Typer):
            app.add_typer(entry, name=name)
    return app
