"""Help pages for the ``oca`` command written as a person would: ``PATH...``, ``--lang en|es``,
``--dry-run``; not the type markers (``<bool>``, ``<str>``, ``{paths}``) that Typer prints."""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup

# Typer carries its own copy of click; parameters are told apart by their declared kind, so this
# module needs neither that private copy nor the public click package.
Param = Any


def _value_name(param: Param) -> str:
    if param.metavar:
        return str(param.metavar)
    described = getattr(param, "type_descriptor", None)  # Typer's view of the annotation
    choices = described.choices if described is not None and described.is_choice else None
    if choices:
        return "|".join(str(getattr(c, "value", c)) for c in choices)
    return str(param.name or "value").upper()


def _usage_piece(param: Param) -> str:
    name = _value_name(param) + ("..." if param.nargs != 1 else "")
    return name if param.required else f"[{name}]"


def _default_text(param: Param) -> str | None:
    default = param.default
    if param.required or default is None or default == () or callable(default):
        return None
    if param.is_flag:
        if not param.secondary_opts:
            return None
        chosen = param.opts if default else param.secondary_opts
        return str(chosen[0])
    return str(getattr(default, "value", default))


def _option_record(param: Param) -> tuple[str, str]:
    names = ", ".join(sorted(param.opts, key=len))
    if param.is_flag and param.secondary_opts:
        names += " / " + ", ".join(param.secondary_opts)
    elif not param.is_flag and not param.count:
        names += " " + _value_name(param)
    extras = []
    default = _default_text(param)
    if default is not None:
        extras.append(f"default: {default}")
    if param.required:
        extras.append("required")
    text = param.help or ""
    if extras:
        text = f"{text}  [{'; '.join(extras)}]".strip()
    return names, text


def _argument_record(param: Param) -> tuple[str, str]:
    help_text: str = getattr(param, "help", None) or ""
    return _usage_piece(param), help_text


def _write_parameters(command: Any, ctx: Any, out: Any) -> None:
    params = command.get_params(ctx)
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option" and not p.hidden]
    if arguments:
        with out.section("Arguments"):
            out.write_dl([_argument_record(p) for p in arguments])
    if options:
        with out.section("Options"):
            out.write_dl([_option_record(p) for p in options])


def _usage(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    arguments = [p for p in command.get_params(ctx) if p.param_type_name == "argument"]
    pieces += [_usage_piece(p) for p in arguments]
    return pieces


class Command(TyperCommand):
    """A command whose --help names values (PATH..., en|es) and flags plainly."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)

    def format_arguments(self, ctx: Any, formatter: Any) -> None:
        pass  # written with the options, in one place

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _write_parameters(self, ctx, formatter)


class Group(TyperGroup):
    """A group of commands with the same plain help."""

    def __init__(self, **attrs: Any) -> None:
        attrs["rich_markup_mode"] = None
        super().__init__(**attrs)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*_usage(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _write_parameters(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            sub = self.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                first = (sub.help or "").strip().split("\n\n")[0]
                rows.append((name, " ".join(first.split())))  # whole, wrapped; never cut with ...
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
