"""Where a Python project requires vLLM: `pyproject.toml` ([project].dependencies, optional-dependencies,
dependency-groups) and requirements files, with the line of each requirement. Reading only (tomllib,
`packaging`): `check` uses it; `vline/edits/python_pin.py` rewrites what it finds."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from typing import TYPE_CHECKING

from . import lazy_re, tomlfile
from .errors import InputError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

PACKAGE = "vllm"
# the parts of a PEP 508 string: name and extras, the version specifier or `@ url`, the marker
PARTS = lazy_re.compile(r"^(?P<head>\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?)(?P<spec>.*?)(?P<marker>\s*;\s*.*)?$",
                   re.S)
URL_PARTS = lazy_re.compile(r"^(?P<head>\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?)(?P<spec>\s*@\s*\S+)"
                       r"(?P<marker>\s+;\s*.*)?$", re.S)


class Found(NamedTuple):
    path: Path
    shown: str
    line: int
    section: str  # "project.dependencies", "project.optional-dependencies.gpu", "dependency-groups.dev", "requirements"
    text: str  # the requirement as written
    requirement: Requirement
    hashed: bool = False  # a requirements line pinned with --hash: a new version needs new hashes

    @property
    def exact(self) -> str | None:
        """The version of an exact pin (`==X`, one specifier), else None."""
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None


def split(text: str) -> tuple[str, str, str]:
    """(name and extras, specifier or `@ url`, marker with its `;`) of a requirement string, as written."""
    m = URL_PARTS.match(text) if "@" in text.split(";")[0] else None
    m = m or PARTS.match(text)
    if not m:
        raise ValueError(text)
    return m["head"], m["spec"], m["marker"] or ""


def _is_vllm(text: str) -> Requirement | None:
    if "vllm" not in text.lower():  # most requirements: no parser needed (packaging.requirements costs ~30 ms)
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    return req if re.sub(r"[-_.]+", "-", req.name).lower() == PACKAGE else None  # PEP 503 normalized


def _line_of(lines: list[str], needle: str, start: int) -> int:
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1
    return start + 1


def in_pyproject(path: Path, shown: str | None = None, text: str | None = None) -> list[Found]:
    shown = shown or os.path.relpath(path)
    tf = tomlfile.read(path, shown) if text is None else tomlfile.parse_text(text, path, shown)
    lines = tomlfile.split_lines(tf.text)
    found: list[Found] = []

    def scan(section: str, items: object, table: str) -> None:
        if not isinstance(items, list):
            return
        start = (tf.layout.tables.get(table) or tf.layout.root).line - 1
        for item in items:
            if isinstance(item, str) and (req := _is_vllm(item)):
                found.append(Found(path, tf.shown, _line_of(lines, item, start), section, item, req))

    project = tf.data.get("project")
    if isinstance(project, dict):
        scan("project.dependencies", project.get("dependencies"), "project")
        extras = project.get("optional-dependencies")
        if isinstance(extras, dict):
            for name, items in extras.items():
                scan(f"project.optional-dependencies.{name}", items, "project.optional-dependencies")
    groups = tf.data.get("dependency-groups")
    if isinstance(groups, dict):
        for name, items in groups.items():
            scan(f"dependency-groups.{name}", items, "dependency-groups")
    return found


class ReqLine(NamedTuple):
    line: int
    text: str  # the requirement, without options, hashes or a trailing comment
    start: int  # its span in the file's text
    end: int
    options: str  # what follows it on its logical line (continuation lines included): --hash=..., ...


def requirement_lines(text: str) -> list[ReqLine]:
    """Each requirement of a requirements file, with its span in `text` and its options."""
    out: list[ReqLine] = []
    offset = 0
    continued = False  # this physical line continues the one before (its options, its hashes)
    owner = False  # the logical line being continued is the last requirement found
    for no, raw in enumerate(tomlfile.split_lines(text, keepends=True), start=1):
        body = raw.rstrip("\r\n")
        was_continued, continued = continued, body.endswith("\\")
        code = re.split(r"(?:^|\s)#", body, maxsplit=1)[0]
        if continued:
            code = code.rstrip()[:-1]
        stripped = code.strip()
        if was_continued:
            if owner:
                out[-1] = out[-1]._replace(options=f"{out[-1].options} {stripped}".strip())
        else:
            owner = bool(stripped) and not stripped.startswith("-")
            if owner:
                req = re.split(r"\s+--?[A-Za-z]", code, maxsplit=1)[0].rstrip()
                lead = len(code) - len(code.lstrip())
                out.append(ReqLine(no, req.strip(), offset + lead, offset + len(req), code[len(req):].strip()))
        offset += len(raw)
    return out


def in_requirements(path: Path, shown: str | None = None, text: str | None = None) -> list[Found]:
    shown = shown or os.path.relpath(path)
    text = tomlfile.read_text(path, shown) if text is None else text
    return [Found(path, shown, r.line, "requirements", r.text, parsed, "--hash" in r.options)
            for r in requirement_lines(text) if (parsed := _is_vllm(r.text))]


def is_requirements_file(path: Path) -> bool:
    return path.suffix in (".txt", ".in") and path.name.startswith("requirements")


def find(path: Path, shown: str | None = None, text: str | None = None) -> list[Found]:
    """Every requirement on vLLM in a pyproject.toml or requirements file (its `text` when already read)."""
    if path.name == "pyproject.toml":
        return in_pyproject(path, shown, text)
    return in_requirements(path, shown, text)


def find_text(text: str, path: Path, shown: str) -> list[Found]:
    """find() of another version of the file (HEAD's, say); a version that does not parse has none."""
    try:
        return find(path, shown, text)
    except InputError:
        return []


def default_files(root: Path) -> list[Path]:
    """The files `pin --python` and `check` look at when none are named: pyproject.toml and requirements*.txt."""
    files = [root / "pyproject.toml"] if (root / "pyproject.toml").is_file() else []
    files += sorted(p for p in root.glob("requirements*.txt") if p.is_file())
    return files
