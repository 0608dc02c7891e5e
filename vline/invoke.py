"""What each command does with its parsed parameters. The typer CLI (vline/cli.py, the one definition
of the command line) and the fast path (vline/fastpath.py) both call these functions with the same
keyword arguments, so a command behaves the same whichever parsed its arguments.

Each returns the exit code (None for 0). Nothing here imports typer.
"""
from __future__ import annotations

import sys
from enum import Enum


class EnvFormat(str, Enum):
    sh = "sh"
    json = "json"
    github = "github"


class CapsFormat(str, Enum):
    list = "list"
    cargo = "cargo"
    json = "json"


class Watched(str, Enum):
    rc = "rc"
    stable = "stable"


class Bumped(str, Enum):
    nightly = "nightly"


class Role(str, Enum):
    fidelity = "fidelity"
    schema = "schema"


class State:
    compat: str | None = None  # --compat given before the command name


def _c(given: str | None) -> str | None:
    """The compat path: the command's own --compat, else the one given before the command name."""
    return given if given is not None else State.compat


def _json(on: bool) -> None:
    """--json on a command whose results go through vline.emit: one JSON document instead of key=value lines."""
    if on:
        from . import emit

        emit.json_mode(True)


def root(compat, version) -> None:
    State.compat = compat


def check(as_json, compat):
    from .commands import check as cmd

    return cmd.run(_c(compat), as_json)


def show(as_json, compat):
    from .commands import show as cmd

    cmd.run(_c(compat), as_json)


def pin(args, python, rev, update, as_json, compat):
    _json(as_json)
    from .commands import pin as cmd

    line, files = cmd.split_args(args or [], python)
    cmd.run(_c(compat), line, rev, update, python, files)


def env(line, fmt, as_json, compat):
    from .commands import env as cmd

    cmd.run(_c(compat), line, "json" if as_json else EnvFormat(fmt).value)


def caps(line, fmt, write, as_json, compat):
    from .commands import caps as cmd

    cmd.run(_c(compat), line, "json" if as_json else CapsFormat(fmt).value, write)


def matrix(kind, only, github_output, list_kinds, bare_rows, as_json, compat):
    from .commands import matrix as cmd

    if list_kinds:
        cmd.list_kinds(_c(compat), as_json)
    else:
        cmd.run(_c(compat), kind, only or [], github_output, bare_rows)


def fingerprint(gpu, vllm_tag, engine_config, model, tp, gpu_memory_utilization, max_model_len, max_num_seqs,
                block_size, enforce_eager, prefix_caching, speculative, trace, as_json, compat):
    from .commands import fingerprint as cmd

    if trace is not None:
        cmd.from_trace(trace, as_json)
        return None
    flags = {"block_size": block_size, "enable_prefix_caching": prefix_caching, "enforce_eager": enforce_eager,
             "gpu_memory_utilization": gpu_memory_utilization, "max_model_len": max_model_len,
             "max_num_seqs": max_num_seqs, "model": model, "speculative": speculative, "tensor_parallel": tp}
    cmd.compute(gpu, vllm_tag, engine_config, flags, as_json)
    return None


def watch(what, remote, tags_file, as_json, compat):
    _json(as_json)
    from .commands import release

    release.watch(_c(compat), Watched(what).value, remote, tags_file)


def roll(tag, rev, remote, tags_file, as_json, compat):
    _json(as_json)
    from .commands import release

    release.roll(_c(compat), tag, rev, remote, tags_file)


def bump(what, rev, remote, tags_file, as_json, compat):
    _json(as_json)
    from .commands import release

    release.bump_nightly(_c(compat), rev, remote, tags_file)


def golden_add(traces, line, workload, role, as_json, compat):
    _json(as_json)
    from .commands import golden

    golden.add(_c(compat), traces, line, workload, Role(role).value)


def golden_upload(line, bucket, force, as_json, compat):
    _json(as_json)
    from .commands import golden

    return golden.upload(_c(compat), line, bucket, force)


def golden_fetch(line, bucket, as_json, compat):
    _json(as_json)
    from .commands import golden

    return golden.fetch_cmd(_c(compat), line, bucket)


def golden_verify(line, bucket, as_json, compat):
    _json(as_json)
    from .commands import golden

    return golden.verify_cmd(_c(compat), line, bucket)


def golden_list(as_json, compat):
    from .commands import golden

    golden.list_cmd(_c(compat), as_json)


def golden_prune(as_json, compat):
    _json(as_json)
    from .commands import golden

    golden.prune(_c(compat))


def gate(line, cmd, bucket, evidence_dir, as_json, compat):
    _json(as_json)
    from .commands import gate as gate_cmd

    return gate_cmd.run(_c(compat), line, cmd or [], bucket, evidence_dir)


def promote(lines, evidence_dir, dry_run, as_json, compat):
    _json(as_json)
    from .commands import promote as cmd

    cmd.run(_c(compat), lines or [], evidence_dir, dry_run)


def each(args, python, jobs, committed, as_json, compat):
    from .commands import each as cmd

    lines, command = split_dashdash(args or [])
    cmd.run(_c(compat), lines, command, jobs, as_json, committed, python)


def render(line, template, image, compat):
    from .commands import build as cmd

    cmd.render_cmd(_c(compat), line, template, image)


def build(lines, image, template, push, report, bake, docker, target, secret, cache, jobs, committed, as_json,
          compat):
    _json(as_json)
    from .commands import build as cmd

    cmd.run(_c(compat), lines or [], image, template, push, report, bake, jobs, committed, docker=docker,
            cache=cache, secrets=secret or [], target=target)


def init(manifest, crate, remote, tags_file, max_stable, github, as_json):
    from .commands import init as cmd

    cmd.run(manifest, crate, remote, tags_file, max_stable, github, as_json)


def split_dashdash(args: list[str]) -> tuple[list[str], list[str]]:
    """click drops the first `--`; what precedes the command is lines only if a `--` was given."""
    raw = sys.argv[1:]
    if "--" not in raw:
        return [], args
    after = raw[raw.index("--") + 1:]
    return args[: len(args) - len(after)], after

