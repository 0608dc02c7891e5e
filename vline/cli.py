"""The command line, defined once: typer signatures whose bodies hand their parameters to vline.invoke.
The fast path (vline/fastpath.py) parses the commands every CI leg calls from a table generated from
these definitions; everything else (help, errors, completion, other commands) comes here. Errors
become exit codes in vline.entry.
"""

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__, invoke
from .invoke import Bumped, CapsFormat, EnvFormat, Role, Watched

app = typer.Typer(
    name="vline",
    help="Keep one main branch building and testing against several vLLM release lines.",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: `s3://bucket[/prefix]` is not markup
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
# --compat is accepted before the command name and after it, on every command
CompatOpt = Annotated[Optional[str], typer.Option("--compat", metavar="PATH", help="compat.toml to use.")]


def _run(fn, params: dict) -> None:
    code = fn(**params)
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        print(f"vline {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    compat: Annotated[Optional[str], typer.Option(
        "--compat", metavar="PATH", help="compat.toml to use (default: $VLINE_COMPAT, ./compat.toml or a parent's, "
                                         "else the embedded default).")] = None,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    invoke.root(compat, version)


@app.command()
def check(as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Validate compat.toml, conformance/manifest.toml and the committed Cargo.toml pin."""
    return _run(invoke.check, locals())


@app.command()
def show(as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Show the window of lines as a table (stderr), newest first."""
    return _run(invoke.show, locals())


@app.command()
def pin(
    args: Annotated[Optional[list[str]], typer.Argument(
        metavar="[LINE] [FILE...]", help="Line to pin (default: the default line); with --python, the files "
                                        "(default: pyproject.toml and requirements*.txt).")] = None,
    python: Annotated[bool, typer.Option("--python", help="Also pin the vllm requirement of Python files.")]
    = False,
    rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA", help="Pin this crate rev instead.")] = None,
    update: Annotated[bool, typer.Option("--update/--no-update", help="Refresh Cargo.lock (cargo update -p).")] = True,
    as_json: JsonOpt = False, compat: CompatOpt = None,
) -> None:
    """Pin the Cargo manifest (and with --python the vllm requirement) to LINE; print TARGET_ENV=<tag>
    (appended to $GITHUB_ENV under Actions)."""
    return _run(invoke.pin, locals())


@app.command()
def env(
    line: Annotated[str, typer.Argument(help="The line, e.g. 0.22 or nightly.")],
    fmt: Annotated[EnvFormat, typer.Option("--format", help="sh (eval-able), json, or github ($GITHUB_ENV lines).")]
    = EnvFormat.sh,
    as_json: JsonOpt = False,
    compat: CompatOpt = None,
) -> None:
    """Print LINE's build variables: tag, target env, frontend repo/ref, image tag."""
    return _run(invoke.env, locals())


@app.command()
def caps(
    line: Annotated[Optional[str], typer.Argument(help="The line (default: the default line).")] = None,
    fmt: Annotated[CapsFormat, typer.Option("--format", help="list (the cfgs on, one per line), cargo "
                                                              "(build-script directives) or json.")]
    = CapsFormat.list,
    write: Annotated[bool, typer.Option("--write", help="Write the generated capability table a build.rs "
                                                        "includes ([vline].caps_file).")] = False,
    as_json: JsonOpt = False,
    compat: CompatOpt = None,
) -> None:
    """Print the capability cfgs on for LINE ([[capability]] in compat.toml)."""
    return _run(invoke.caps, locals())


@app.command()
def matrix(
    kind: Annotated[str, typer.Argument(help="Matrix kind: a matrix/<kind>.toml (ci, docker, release, ...).")] = "ci",
    only: Annotated[Optional[list[str]], typer.Option("--only", metavar="LINE", help="Only these lines.")] = None,
    github_output: Annotated[Optional[str], typer.Option("--github-output", metavar="NAME",
                                                         help="Also write NAME=<json> to $GITHUB_OUTPUT.")] = None,
    list_kinds: Annotated[bool, typer.Option("--list", "-l", help="List the matrix kinds instead.")] = False,
    bare_rows: Annotated[bool, typer.Option("--rows", help="Print the bare array of rows, for "
                                                           "`include: ${{ fromJSON(...) }}`.")] = False,
    as_json: JsonOpt = False,
    compat: CompatOpt = None,
) -> None:
    """Print a GitHub Actions matrix (an object with an include list) as compact JSON."""
    return _run(invoke.matrix, locals())


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
    compat: CompatOpt = None,
) -> None:
    """Compute config_hash (config-fingerprint-v3), or read the one stamped in a trace."""
    return _run(invoke.fingerprint, locals())


RemoteOpt = Annotated[Optional[str], typer.Option("--remote", metavar="URL",
                                                  help="Upstream git URL (default: [vline].upstream).")]
TagsFileOpt = Annotated[Optional[Path], typer.Option("--tags-file", metavar="FILE",
                                                     help="Read a saved 'git ls-remote' dump instead of the remote.")]


@app.command()
def watch(what: Annotated[Watched, typer.Argument(help="rc: follow the newest release candidate; stable: move "
                                                       "lines to their newest releases and roll in newer ones.")],
          remote: RemoteOpt = None, tags_file: TagsFileOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Follow upstream releases: prints a key=value summary (also to $GITHUB_OUTPUT)."""
    return _run(invoke.watch, locals())


@app.command()
def roll(tag: Annotated[str, typer.Argument(help="The new release, e.g. v0.24.0.")],
         rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA",
                                                    help="Crate rev (default: the tag's commit upstream).")] = None,
         remote: RemoteOpt = None, tags_file: TagsFileOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Roll TAG in as the default line; the oldest stable lines by version leave."""
    return _run(invoke.roll, locals())


@app.command()
def bump(what: Annotated[Bumped, typer.Argument(help="The tracker to bump.")],
         rev: Annotated[Optional[str], typer.Option("--rev", metavar="SHA",
                                                    help="Rev (default: the remote's HEAD).")] = None,
         remote: RemoteOpt = None, tags_file: TagsFileOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Move nightly's protocol_rev to upstream main's HEAD."""
    return _run(invoke.bump, locals())


golden_app = typer.Typer(help="The golden captures of conformance/manifest.toml, stored in S3 by sha256.",
                         no_args_is_help=True, rich_markup_mode=None)
app.add_typer(golden_app, name="golden")

BucketOpt = Annotated[Optional[str], typer.Option("--bucket", metavar="S3URL",
                                                  help="s3://bucket[/prefix] (default: $CONFORMANCE_BUCKET).")]
LineOpt = Annotated[Optional[str], typer.Option("--line", metavar="LINE", help="Only this line's goldens.")]


@golden_app.command("add")
def golden_add(
    traces: Annotated[list[Path], typer.Argument(metavar="TRACE...", help=".jsonl or .jsonl.gz captures.")],
    line: Annotated[str, typer.Option("--line", help="The line the traces were captured on.")],
    workload: Annotated[Optional[str], typer.Option("--workload", help="Workload name (default: the file name).")]
    = None,
    role: Annotated[Role, typer.Option("--role")] = Role.fidelity,
    as_json: JsonOpt = False, compat: CompatOpt = None,
) -> None:
    """Register captures in the manifest (staged in .vline/goldens until uploaded)."""
    return _run(invoke.golden_add, locals())


@golden_app.command("upload")
def golden_upload(line: LineOpt = None, bucket: BucketOpt = None,
                  force: Annotated[bool, typer.Option("--force", help="Overwrite different bytes at a key.")]
                  = False, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Upload staged goldens; identical objects are skipped, different ones never overwritten."""
    return _run(invoke.golden_upload, locals())


@golden_app.command("fetch")
def golden_fetch(line: LineOpt = None, bucket: BucketOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Download goldens into the content-addressed cache (verified bytes only)."""
    return _run(invoke.golden_fetch, locals())


@golden_app.command("verify")
def golden_verify(line: LineOpt = None, bucket: BucketOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Fetch, then check sha256, provenance and every record of each golden."""
    return _run(invoke.golden_verify, locals())


@golden_app.command("list")
def golden_list(as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """List the goldens of the manifest."""
    return _run(invoke.golden_list, locals())


@golden_app.command("prune")
def golden_prune(as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Remove generated entries whose line is no longer in compat.toml."""
    return _run(invoke.golden_prune, locals())


EvidenceOpt = Annotated[Optional[Path], typer.Option("--evidence", metavar="DIR",
                                                     help="Evidence folder (default: .vline/evidence).")]


@app.command()
def gate(line: Annotated[str, typer.Argument(help="The line to gate.")],
         cmd: Annotated[Optional[list[str]], typer.Argument(metavar="-- CMD...", help="The replay command.")] = None,
         bucket: BucketOpt = None, evidence_dir: EvidenceOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Fetch and verify LINE's goldens, run the replay command, write evidence."""
    return _run(invoke.gate, locals())


@app.command()
def promote(lines: Annotated[Optional[list[str]], typer.Argument(metavar="[LINE...]")] = None,
            evidence_dir: EvidenceOpt = None,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change; write nothing.")]
            = False, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Set fidelity_validated where passing, current gate evidence allows it."""
    return _run(invoke.promote, locals())


JobsOpt = Annotated[int, typer.Option("-j", "--jobs", min=1, help="Lines at once.")]
CommittedOpt = Annotated[bool, typer.Option("--committed", help="Use HEAD only, without uncommitted changes.")]


@app.command()
def each(args: Annotated[Optional[list[str]], typer.Argument(metavar="[LINE...] -- CMD...")] = None,
         python: Annotated[bool, typer.Option("--python", help="Run CMD in the line's own virtual environment with "
                                                               "its vllm requirement installed (uv, else pip).")]
         = False,
         jobs: JobsOpt = 1, committed: CommittedOpt = False, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Run CMD in every line's isolated, pinned checkout (the user's checkout is never touched)."""
    return _run(invoke.each, locals())


TemplateOpt = Annotated[Optional[Path], typer.Option("--template", metavar="PATH",
                                                     help="Template (default: Dockerfile.template beside compat.toml).")]
ImageOpt = Annotated[Optional[str], typer.Option("--image", metavar="REPO", help="Image repository (default: "
                                                                                 "[vline].image).")]


@app.command()
def render(line: Annotated[str, typer.Argument(help="The line to render for.")], template: TemplateOpt = None,
           image: ImageOpt = None, compat: CompatOpt = None) -> None:
    """Print Dockerfile.template rendered for LINE (its ARG defaults become the line's values)."""
    return _run(invoke.render, locals())


@app.command()
def build(lines: Annotated[Optional[list[str]], typer.Argument(metavar="[LINE...]")] = None,
          image: ImageOpt = None, template: TemplateOpt = None,
          push: Annotated[bool, typer.Option("--push", help="Push every tag; record the registry digest.")] = False,
          report: Annotated[Optional[Path], typer.Option("--report", metavar="FILE", help="Write a JSON report.")]
          = None,
          bake: Annotated[Optional[Path], typer.Option("--bake", metavar="FILE",
                                                       help="Write a docker buildx bake file instead of building.")]
          = None,
          docker: Annotated[Optional[str], typer.Option(
              "--docker", metavar="PATH", envvar="VLINE_DOCKER",
              help="The docker client to build with (default: docker on PATH); it needs buildx or BuildKit.")]
          = None,
          target: Annotated[Optional[str], typer.Option("--target", metavar="STAGE",
                                                        help="Build this stage of a multi-stage Dockerfile.")]
          = None,
          secret: Annotated[Optional[list[str]], typer.Option(
              "--secret", metavar="id=ID,src=PATH", help="A build secret (RUN --mount=type=secret); repeatable.")]
          = None,
          cache: Annotated[Optional[str], typer.Option(
              "--cache", metavar="BACKEND", help="The bake file's cache: gha, registry, local or none "
                                                 "(default: gha under GitHub Actions, else none).")] = None,
          jobs: JobsOpt = 1, committed: CommittedOpt = False, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """Build each line's image in its own pinned checkout with BuildKit."""
    return _run(invoke.build, locals())


@app.command()
def init(manifest: Annotated[Optional[Path], typer.Option("--manifest", metavar="PATH",
                                                          help="The Cargo manifest (default: ./Cargo.toml).")] = None,
         crate: Annotated[Optional[str], typer.Option("--crate", metavar="NAME",
                                                      help="The vLLM git dependency (default: found by its URL).")]
         = None,
         remote: RemoteOpt = None, tags_file: TagsFileOpt = None,
         max_stable: Annotated[int, typer.Option("--max-stable", min=1, help="Stable lines in the window.")] = 3,
         github: Annotated[bool, typer.Option("--github", help="Also write the caller workflows "
                                                                "(.github/workflows/).")] = False,
         as_json: JsonOpt = False) -> None:
    """Write a commented compat.toml for this project from its Cargo manifest and the upstream's tags."""
    return _run(invoke.init, locals())


# --- capture: golden-capture Jobs for Kubernetes (Kueue); commands live in vline/commands/capture.py ---
capture_app = typer.Typer(help="Golden-capture Jobs for Kubernetes (Kueue) from the capture matrix.",
                          no_args_is_help=True, rich_markup_mode=None)
app.add_typer(capture_app, name="capture")
CaptureOpt = Annotated[Optional[str], typer.Option(
    "--capture", metavar="PATH", help="The capture matrix (default: $VLINE_CAPTURE, else capture.toml beside "
                                      "compat.toml).")]
TargetsArg = Annotated[Optional[list[str]], typer.Argument(metavar="[NAME...]", help="Capture targets.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every capture target.")]
CaptureLineOpt = Annotated[Optional[list[str]], typer.Option("--line", metavar="LINE",
                                                             help="The targets of this line (or tag); repeatable.")]


@capture_app.command("list")
def capture_list(capture: CaptureOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None) -> None:
    """List the capture targets with their line, scenario and config_hash."""
    from .commands import capture as cmd

    cmd.list_cmd(invoke._c(compat), capture, as_json)


@capture_app.command("render")
def capture_render(names: TargetsArg = None, everything: AllOpt = False, line: CaptureLineOpt = None,
                   capture: CaptureOpt = None, compat: CompatOpt = None) -> None:
    """Print one Kubernetes Job per target as multi-document YAML."""
    from .commands import capture as cmd

    cmd.render(invoke._c(compat), capture, names or [], everything, line or [])


@capture_app.command("verify-images")
def capture_verify_images(
    lines: Annotated[Optional[list[str]], typer.Argument(metavar="[LINE...]", help="Lines or tags (default: all).")]
    = None, capture: CaptureOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None,
) -> None:
    """Resolve each engine image in its registry; refuse a single-platform digest where the tag is a multi-arch index."""
    invoke._json(as_json)
    from .commands import capture as cmd

    return _run(cmd.verify_images, {"compat_path": invoke._c(compat), "capture_path": capture, "lines": lines or []})


@capture_app.command("submit")
def capture_submit(
    names: TargetsArg = None, everything: AllOpt = False, line: CaptureLineOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Delete and recreate a Job whose spec differs.")] = False,
    kubeconfig: Annotated[Optional[str], typer.Option("--kubeconfig", metavar="PATH",
                                                      help="kubeconfig (default: $KUBECONFIG, ~/.kube/config, "
                                                           "else in-cluster).")] = None,
    context: Annotated[Optional[str], typer.Option("--context", metavar="NAME", help="kubeconfig context.")] = None,
    capture: CaptureOpt = None, as_json: JsonOpt = False, compat: CompatOpt = None,
) -> None:
    """Create the targets' Jobs through the Kubernetes API; an identical Job is left, a different one refused."""
    invoke._json(as_json)
    from .commands import capture as cmd

    return _run(cmd.submit, {"compat_path": invoke._c(compat), "capture_path": capture, "names": names or [],
                             "everything": everything, "lines": line or [], "replace": replace,
                             "kubeconfig": kubeconfig, "context": context})
# --- end capture ---


_VALUE_OPTIONS = {"--compat"}  # global options that take a value


def _lean_app(argv: list[str]) -> typer.Typer:
    """The app with only the invoked command registered: typer builds every registered command on each
    call, which the commands CI runs often should not pay for. Help and unknown names get the full app."""
    if any(k.startswith("_VLINE") and k.endswith("_COMPLETE") for k in os.environ):
        return app  # completion needs every command
    args = iter(argv)
    name = None
    for arg in args:
        if arg in ("-h", "--help", "--version", "-V", "--install-completion", "--show-completion"):
            return app
        if arg in _VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            name = arg
            break
    commands = [c for c in app.registered_commands if (c.name or c.callback.__name__.replace("_", "-")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    lean = typer.Typer(**{k: getattr(app.info, k) for k in ("name", "help", "no_args_is_help")},
                       add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                       context_settings=app.info.context_settings)
    lean.registered_callback = app.registered_callback
    lean.registered_commands = commands
    lean.registered_groups = groups
    return lean


def run_typer(argv: list[str]) -> None:
    """Parse and run with typer (exits the process)."""
    _lean_app(argv)(args=argv, prog_name="vline")
