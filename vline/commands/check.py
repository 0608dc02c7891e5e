"""`vline check`: every rule violation in compat.toml, the golden manifest and the derived Cargo.toml."""
from __future__ import annotations

import os

from .. import compat as compat_mod
from .. import manifest as manifest_mod
from .. import cargo_lock, emit, journal, tomlfile, ui
from ..cargo_toml import current
from ..errors import NO, OK, VlineError
from ..findings import Collector, Finding


def _line_of(text: str, needle: str, fallback: int = 1) -> int:
    for no, raw in enumerate(tomlfile.split_lines(text), start=1):
        if needle in raw:
            return no
    return fallback


def cargo_drift(compat: compat_mod.Compat) -> list[Finding]:
    """The committed manifest must be pinned to the default line (rev and fork), and Cargo.lock must lock
    the crate where the manifest pins it (else `cargo build --locked` fails)."""
    path = compat.manifest_path()
    if compat.embedded or not path.is_file():
        return []
    tf = tomlfile.read(path, os.path.relpath(path))
    out = Collector(tf.shown)
    crate, default = compat.settings.crate, compat.default
    try:
        pin = current(tf.data, crate, tf.shown, tf.layout)
    except VlineError as e:
        out.error(e.line or 1, e.message)
        return out.items
    block = tf.layout.tables.get(pin.section)
    dep_line = (block.at(crate) if block else None) or _line_of(tf.text, crate)
    hint = f"run 'vline pin' to pin it to the default line {default.line}"
    if pin.rev != default.protocol_rev:
        out.error(_line_of(tf.text, pin.rev, dep_line) if pin.rev else dep_line,
                  f"{crate} rev {pin.rev or '(none)'} is not the default line {default.line}'s protocol_rev "
                  f"{default.protocol_rev}; {hint}")
    if (pin.patch_repo, pin.patch_rev) != (default.patch_repo, default.patch_rev):
        want = f"{default.patch_repo}@{default.patch_rev}" if default.has_fork else "no fork patch"
        have = f"{pin.patch_repo}@{pin.patch_rev}" if pin.patch_repo else "no fork patch"
        out.error(_line_of(tf.text, "[patch", dep_line),
                  f"{crate} fork patch is {have}, the default line {default.line} has {want}; {hint}")
    lock = path.parent / "Cargo.lock"  # where cargo keeps it (adapters.cargo, not imported: check stays light)
    return out.items + cargo_lock.check(lock, os.path.relpath(lock), pin, tf.shown)


def derived_drift(compat: compat_mod.Compat) -> list[Finding]:
    """The Dockerfile's ARG defaults and the capability table must be the default line's."""
    from .. import caps
    from ..edits.dockerfile import drifted

    out: list[Finding] = []
    docker = compat.dockerfile_path()
    if docker.is_file():
        shown = os.path.relpath(docker)
        text = tomlfile.read_text(docker, shown)
        for no, name, have, want in drifted(text, compat.default.build_env(compat.settings)):
            out.append(Finding(shown, no, "error", f"ARG {name} defaults to {have}, the default line "
                                                   f"{compat.default.line} has {want}; run 'vline roll' or fix it"))
    return out + caps.stale(compat)


def python_findings(compat: compat_mod.Compat) -> list[Finding]:
    """A Python project's vllm requirement (pyproject.toml, requirements*.txt beside compat.toml): a range
    must admit every versioned line of the window; an exact pin must be the default line's."""
    from .. import python_reqs

    out: list[Finding] = []
    default = compat.default
    for path in python_reqs.default_files(compat.root):
        try:
            found = python_reqs.find(path, os.path.relpath(path))
        except VlineError as e:
            out.append(Finding.of(e, path))
            continue
        for f in found:
            req = f.requirement
            if req.url:
                continue
            if f.exact is not None:
                if default.version is not None and f.exact != str(default.version):
                    out.append(Finding(f.shown, f.line, "error", f"{f.text.strip()} pins vllm {f.exact}, the default "
                                       f"line {default.line} is {default.version}; run 'vline pin --python' "
                                       "(or commit the range your project supports)"))
                continue
            excluded = [ln for ln in compat.ordered() if ln.version is not None
                        and not req.specifier.contains(ln.version, prereleases=True)]
            if excluded:
                names = ", ".join(f"{ln.line} ({ln.version})" for ln in excluded)
                out.append(Finding(f.shown, f.line, "error", f"{f.text.strip()} excludes lines of the window: {names}"))
    return out


def run(compat_path: str | None, as_json: bool) -> int:
    compat = compat_mod.load(compat_path, strict=False)
    findings = list(compat.findings)
    manifest = manifest_mod.load(compat.path, strict=False)
    if manifest:
        findings += manifest.findings
        known = {ln.line for ln in compat.lines}
        for g in manifest.goldens:
            if compat.lines and g.line not in known:
                findings.append(Finding(manifest.shown, g.pos, "warning",
                                        f"golden for line {g.line!r}, which is not in the window "
                                        "(remove it with 'vline golden prune')"))
    if not compat.embedded:
        pending = journal.finding(compat.root)
        if pending:
            findings.append(pending)
    if not compat.errors:
        findings += cargo_drift(compat)
        try:
            findings += derived_drift(compat)
        except VlineError as e:  # a Dockerfile that cannot be read is a finding like any other
            findings.append(Finding.of(e, compat.shown))
    if not compat.errors and not compat.embedded:
        # the capture matrix when there may be one (capture.locate's rule; its parser is not loaded otherwise)
        if os.environ.get("VLINE_CAPTURE") or compat.settings.capture != "capture.toml" \
                or (compat.root / "capture.toml").exists():
            from .. import capture

            findings += capture.check_findings(compat)
        findings += python_findings(compat)

    errors = [f for f in findings if f.is_error]
    if as_json:
        ui.result_json({"ok": not errors, "errors": len(errors), "warnings": len(findings) - len(errors),
                        "findings": [f.as_json() for f in findings]})
    else:
        for f in findings:
            ui.result(f.render())
    if emit.active():
        for f in findings:
            ui.note(emit.annotation(f.severity, f.message, file=f.path, line=f.line))
    if findings:
        emit.summary_table("vline check", ["file", "line", "severity", "message"],
                             [[f.path, f.line, f.severity, f.message] for f in findings])
    ui.note(f"{compat.shown}: {len(compat.lines)} lines, {len(errors)} errors, {len(findings) - len(errors)} warnings")
    return NO if errors else OK
