"""The command line: typer signatures only. Bodies live in vline.commands and are imported on use,
so the commands CI calls often (matrix, pin, env, check, fingerprint) load nothing they do not need.
Errors become exit codes here and only here (see errors.py).
"""

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import ENVIRONMENT, VlineError

app = typer.Typer(
    name="vline",
    help="Keep one main branch building and testing against several vLLM release lines.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


class State:
    compat: Optional[str] = None


def _version(value: bool) -> None:
    if value:
        print(f"vline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    compat: Annotated[Optional[str], typer.Option(
        "--compat", metavar="PATH", help="compat.toml to use (default: $VLINE_COMPAT, ./compat.toml or a parent's, "
                                         "else the embedded default).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    State.compat = compat


@app.command()
def check(as_json: JsonOpt = False) -> None:
    """Validate compat.toml, conformance/manifest.toml and the committed Cargo.toml pin."""
    from .commands import check as cmd

    raise typer.Exit(cmd.run(State.compat, as_json))


@app.command()
def show(as_json: JsonOpt = False) -> None:
    """Show the window of lines as a table (stderr), newest first."""
    from .commands import show as cmd

    cmd.run(State.compat, as_json)


@app.command()
def pin(
    line: Annotated[Optional[str], typer.Argument(help="Line to pin (default: the default line).")] = None,
    rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA", help="Pin this crate rev instead.")] = None,
    update: Annotated[bool, typer.Option("--update/--no-update", help="Refresh Cargo.lock (cargo update -p).")] = True,
) -> None:
    """Pin the Cargo manifest to LINE and print TARGET_ENV=<tag> (appended to $GITHUB_ENV under Actions)."""
    from .commands import pin as cmd

    cmd.run(State.compat, line, rev, update)


class EnvFormat(str, Enum):
    sh = "sh"
    json = "json"
    github = "github"


@app.command()
def env(
    line: Annotated[str, typer.Argument(help="The line, e.g. 0.22 or nightly.")],
    fmt: Annotated[EnvFormat, typer.Option("--format", help="sh (eval-able), json, or github ($GITHUB_ENV lines).")]
    = EnvFormat.sh,
    as_json: JsonOpt = False,
) -> None:
    """Print LINE's build variables: tag, target env, frontend repo/ref, image tag."""
    from .commands import env as cmd

    cmd.run(State.compat, line, "json" if as_json else fmt.value)


@app.command()
def matrix(
    kind: Annotated[str, typer.Argument(help="Matrix kind: a matrix/<kind>.toml (ci, docker, release, ...).")] = "ci",
    only: Annotated[Optional[list[str]], typer.Option("--only", metavar="LINE", help="Only these lines.")] = None,
    github_output: Annotated[Optional[str], typer.Option("--github-output", metavar="NAME",
                                                         help="Also write NAME=<json> to $GITHUB_OUTPUT.")] = None,
    list_kinds: Annotated[bool, typer.Option("--list", "-l", help="List the matrix kinds instead.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print a GitHub Actions matrix (an object with an include list) as compact JSON."""
    from .commands import matrix as cmd

    if list_kinds:
        cmd.list_kinds(State.compat, as_json)
    else:
        cmd.run(State.compat, kind, only or [], github_output)


@app.command()
def fingerprint(
    gpu: Annotated[Optional[str], typer.Option(help="GPU name, e.g. A100.")] = None,
    vllm_tag: Annotated[Optional[str], typer.Option("--vllm-tag", help="The line's tag, e.g. v0.22.1.")] = None,
    engine_config: Annotated[Optional[str], typer.Option("--engine-config", help="key=value;... as a string.")]
    = None,
    model: Annotated[Optional[str], typer.Option()] = None,
    tp: Annotated[Optional[int], typer.Option("--tp", help="Tensor parallel size.")] = None,
    gpu_memory_utilization: Annotated[Optional[float], typer.Option()] = None,
    max_model_len: Annotated[Optional[int], typer.Option()] = None,
    max_num_seqs: Annotated[Optional[int], typer.Option()] = None,
    block_size: Annotated[Optional[int], typer.Option()] = None,
    enforce_eager: Annotated[Optional[bool], typer.Option("--enforce-eager/--no-enforce-eager")] = None,
    prefix_caching: Annotated[Optional[bool], typer.Option("--prefix-caching/--no-prefix-caching")] = None,
    speculative: Annotated[str, typer.Option(help="Speculative decoding config, 'none' when not deployed.")]
    = "none",
    trace: Annotated[Optional[Path], typer.Option("--trace", metavar="FILE",
                                                  help="Print the config_hash a trace was stamped with.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute config_hash (config-fingerprint-v3), or read the one stamped in a trace."""
    from .commands import fingerprint as cmd

    if trace is not None:
        cmd.from_trace(trace, as_json)
        return
    flags = {"block_size": block_size, "enable_prefix_caching": prefix_caching, "enforce_eager": enforce_eager,
             "gpu_memory_utilization": gpu_memory_utilization, "max_model_len": max_model_len,
             "max_num_seqs": max_num_seqs, "model": model, "speculative": speculative, "tensor_parallel": tp}
    cmd.compute(gpu, vllm_tag, engine_config, flags, as_json)


RemoteOpt = Annotated[Optional[str], typer.Option("--remote", metavar="URL",
                                                  help="Upstream git URL (default: [vline].upstream).")]
TagsFileOpt = Annotated[Optional[Path], typer.Option("--tags-file", metavar="FILE",
                                                     help="Read a saved 'git ls-remote' dump instead of the remote.")]


class Watched(str, Enum):
    rc = "rc"
    stable = "stable"


@app.command()
def watch(what: Annotated[Watched, typer.Argument(help="rc: follow the newest release candidate; stable: move "
                                                       "lines to their newest releases and roll in newer ones.")],
          remote: RemoteOpt = None, tags_file: TagsFileOpt = None) -> None:
    """Follow upstream releases: prints a key=value summary (also to $GITHUB_OUTPUT)."""
    from .commands import release

    release.watch(State.compat, what.value, remote, tags_file)


@app.command()
def roll(tag: Annotated[str, typer.Argument(help="The new release, e.g. v0.24.0.")],
         rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA",
                                                    help="Crate rev (default: the tag's commit upstream).")] = None,
         remote: RemoteOpt = None, tags_file: TagsFileOpt = None) -> None:
    """Roll TAG in as the default line; the oldest stable lines by version leave."""
    from .commands import release

    release.roll(State.compat, tag, rev, remote, tags_file)


class Bumped(str, Enum):
    nightly = "nightly"


@app.command()
def bump(what: Annotated[Bumped, typer.Argument(help="The tracker to bump.")],
         rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA",
                                                    help="Rev (default: the remote's HEAD).")] = None,
         remote: RemoteOpt = None, tags_file: TagsFileOpt = None) -> None:
    """Move nightly's protocol_rev to upstream main's HEAD."""
    from .commands import release

    release.bump_nightly(State.compat, rev, remote, tags_file)


def _report(e: VlineError) -> None:
    from .adapters import github

    print(e.render(), file=sys.stderr)
    for extra in e.extra:
        print(extra, file=sys.stderr)
    if github.active():
        print(github.annotation("error", e.message, file=str(e.path) if e.path else None, line=e.line),
              file=sys.stderr)


def main() -> None:
    try:
        app()
    except VlineError as e:
        _report(e)
        sys.exit(e.code)
    except KeyboardInterrupt:
        print("vline: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as e:  # a bug in vline: still one line, never a traceback unless asked for
        if os.environ.get("VLINE_DEBUG"):
            raise
        print(f"vline: internal error: {type(e).__name__}: {e} (set VLINE_DEBUG=1 for the traceback)",
              file=sys.stderr)
        sys.exit(ENVIRONMENT)
