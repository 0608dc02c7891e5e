"""The fast path: the commands every CI leg calls (matrix, env, pin, check, fingerprint, caps, gate, golden
fetch/verify) parsed without importing typer, which costs more than the command itself.

The command line is defined once, in vline/cli.py. `python -m vline.fastpath --write` derives the table
in vline/_cli_spec.py from those typer definitions; tests/test_fastpath.py fails when the table drifts
from them and proves that whatever the fast path accepts, typer accepts with the same parameters. Any
argument list the table does not fully explain (help, completion, a typo, an odd form) returns None
and goes to typer, which gives the real answer or the real error.
"""
from __future__ import annotations

import os
from typing import NamedTuple


class Parsed(NamedTuple):
    command: str  # the name of its function in vline/invoke.py
    params: dict
    compat: str | None  # --compat given before the command name


def _convert(conv: str, raw: str):
    """One value as typer would hand it over; ValueError when typer would refuse it."""
    if conv == "str":
        return raw
    if conv == "int":
        return int(raw)
    if conv == "float":
        return float(raw)
    if conv == "path":
        from pathlib import Path

        return Path(raw)
    kind, _, name = conv.partition(":")
    if kind == "enum":
        from . import invoke

        return getattr(invoke, name)(raw)
    raise ValueError(conv)


def _default(value):
    if isinstance(value, tuple) and value and value[0] == "enum":
        from . import invoke

        return getattr(invoke, value[1])(value[2])
    return value


def parse(argv: list[str]) -> Parsed | None:
    """(command, its parameters, the global --compat), or None: let typer handle it."""
    if any(k.endswith("_COMPLETE") for k in os.environ if k.startswith("_VLINE")):
        return None
    from ._cli_spec import GLOBAL, SPEC

    compat = None
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        if name not in GLOBAL:
            return None
        if not eq:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            i += 1
        compat = value
        i += 1
    if i >= len(argv):
        return None
    name = argv[i]
    if name not in SPEC and i + 1 < len(argv) and f"{name} {argv[i + 1]}" in SPEC:  # a group's command
        i += 1
        name = f"{name} {argv[i]}"
    if name not in SPEC or " " in argv[i]:
        return None
    params = _parse_command(SPEC[name], argv[i + 1:])
    return None if params is None else Parsed(name.replace(" ", "_"), params, compat)


def _parse_command(spec: dict, args: list[str]) -> dict | None:
    options, arguments = spec["options"], spec["arguments"]
    given: dict[str, object] = {}
    positional: list[str] = []
    only_positional = False
    j = 0
    while j < len(args):
        a = args[j]
        j += 1
        if only_positional or a == "-" or not a.startswith("-"):
            positional.append(a)
            continue
        if a == "--":
            only_positional = True
            continue
        name, eq, value = a.partition("=") if a.startswith("--") else (a, "", "")
        opt = options.get(name)
        if opt is None:
            return None  # help, an unknown option, combined short flags: typer's to answer
        pname, conv, action = opt
        if action in ("true", "false"):
            if eq:
                return None
            given[pname] = action == "true"
            continue
        if not eq:
            if j >= len(args):
                return None
            value = args[j]
            j += 1
        try:
            converted = _convert(conv, value)
        except ValueError:
            return None
        if action == "multiple":
            given.setdefault(pname, []).append(converted)  # type: ignore[union-attr]
        else:
            given[pname] = converted
    if arguments and arguments[-1][3] and len(positional) >= len(arguments):  # a last argument of several values
        *head, last = arguments
        rest = positional[len(head):]
        positional = positional[:len(head)]
        try:
            given[last[0]] = [_convert(last[1], raw) for raw in rest]
        except ValueError:
            return None
        arguments = head
    if len(positional) > len(arguments):
        return None
    for (pname, conv, required, _), raw in zip(arguments, positional):
        try:
            given[pname] = _convert(conv, raw)
        except ValueError:
            return None
    for pname, conv, required, _ in arguments[len(positional):]:
        if required:
            return None
    return {p: given[p] if p in given else _default(spec["defaults"][p]) for p in spec["params"]}


def generate() -> str:
    """The table, from the typer definitions in vline/cli.py."""
    import inspect
    import typing

    import typer.main

    from . import cli

    group = typer.main.get_command(cli.app)

    def conv_of(fn, name: str) -> tuple[str, bool]:
        ann = inspect.signature(fn, eval_str=True).parameters[name].annotation
        base = typing.get_args(ann)[0] if typing.get_origin(ann) is typing.Annotated else ann
        if typing.get_origin(base) is typing.Union:
            base = next(a for a in typing.get_args(base) if a is not type(None))
        multiple = typing.get_origin(base) is list
        if multiple:
            base = typing.get_args(base)[0]
        names = {str: "str", int: "int", float: "float", bool: "bool"}
        if base in names:
            return names[base], multiple
        if base.__name__ == "Path":
            return "path", multiple
        return f"enum:{base.__name__}", multiple

    def command(name: str):
        """(click command, its typer callback) of "cmd" or "group cmd"."""
        *outer, last = name.split(" ")
        where, app = group, cli.app
        for g in outer:
            where = where.commands[g]
            app = next(t.typer_instance for t in app.registered_groups if t.name == g)
        fn = next(c.callback for c in app.registered_commands
                  if (c.name or c.callback.__name__.replace("_", "-")) == last)
        return where.commands[last], fn

    def refuse_unreadable(name: str, p) -> None:
        """The table holds names, conversions and defaults only: a parameter that means more (an env var,
        a callback, a range, a case-blind choice, a path that is checked) would be parsed differently."""
        t = type(p.type).__name__
        plain = t in ("StringParamType", "IntParamType", "FloatParamType", "BoolParamType")
        choice = t == "TyperChoice" and p.type.case_sensitive
        path = t == "TyperPath" and not (p.type.exists or p.type.resolve_path or p.type.allow_dash)
        if p.envvar or p.callback or p.is_eager or getattr(p, "prompt", None) or not (plain or choice or path):
            raise SystemExit(f"{name}: parameter {p.name} ({t}, envvar={p.envvar!r}, callback={p.callback!r}) means "
                             "more than the fast path's table holds: take the command off FAST_COMMANDS or teach "
                             "the table")

    spec: dict = {}
    for name in FAST_COMMANDS:
        cmd, fn = command(name)
        sig = inspect.signature(fn, eval_str=True)
        options: dict = {}
        arguments: list = []
        defaults: dict = {}
        for p in cmd.params:
            refuse_unreadable(name, p)
            conv, multiple = conv_of(fn, p.name)
            default = sig.parameters[p.name].default
            if default is inspect.Parameter.empty:  # a required argument: never defaulted
                default = None
            if hasattr(default, "value") and type(default).__module__ == "vline.invoke":
                default = ("enum", type(default).__name__, default.value)
            defaults[p.name] = default
            if p.param_type_name == "argument":
                variadic = p.nargs == -1 and multiple
                if (p.nargs != 1 or multiple) and not variadic or arguments and arguments[-1][3]:
                    raise SystemExit(f"{name}: argument {p.name}: the fast path reads one value per argument, "
                                     "and several only in the last")
                arguments.append((p.name, conv, bool(p.required), variadic))
                continue
            if p.is_flag and conv == "bool":
                for o in p.opts:
                    options[o] = (p.name, "bool", "true")
                for o in p.secondary_opts:
                    options[o] = (p.name, "bool", "false")
                continue
            for o in p.opts:
                options[o] = (p.name, conv, "multiple" if p.multiple else "value")
        spec[name] = {"params": [p.name for p in cmd.params], "arguments": arguments, "options": options,
                      "defaults": defaults}
    root_opts = [o for p in group.params if p.name == "compat" for o in p.opts]
    import pprint

    return ('"""Generated by `python -m vline.fastpath --write` from the typer definitions in vline/cli.py:\n'
            'the fast path\'s table of the commands every CI leg calls. Do not edit; tests fail when it drifts."""\n\n'
            f"GLOBAL = {root_opts!r}\n\nSPEC = {pprint.pformat(spec, width=110, sort_dicts=True)}\n")


FAST_COMMANDS = ("caps", "check", "env", "fingerprint", "gate", "golden fetch", "golden verify", "matrix", "pin")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(__file__).with_name("_cli_spec.py")
    text = generate()
    if sys.argv[1:] == ["--write"]:
        target.write_text(text)
    else:
        sys.stdout.write(text)
