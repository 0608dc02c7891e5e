"""Rewrite the vLLM requirement of a pyproject.toml or requirements file to a line's, touching no other
byte: extras, markers, comments and the file's layout stay; an exact pin keeps its spacing, so pinning
A then back to the committed line gives the committed bytes."""
from __future__ import annotations

from collections.abc import Callable

from .. import lazy_re
from ..python_reqs import _is_vllm, requirement_lines, split

_EXACT = lazy_re.compile(r"^(?P<op>\s*===?\s*)(?P<version>[^\s,;]+)(?P<tail>\s*)$")
_URL = lazy_re.compile(r"^(?P<at>\s*@\s*)(?P<url>\S+)(?P<tail>\s*)$")


def retarget(text: str, version: str | None = None, url: str | None = None) -> str:
    """`text` (a requirement on vLLM) asking for exactly `version`, or for the direct reference `url`."""
    head, spec, marker = split(text)
    if version is not None:
        m = _EXACT.match(spec)
        spec = f"{m['op']}{version}{m['tail']}" if m else f"=={version}"
        if marker and not m:
            marker = marker if marker[:1].isspace() else " " + marker
        return f"{head.rstrip() if not m else head}{spec}{marker}"
    assert url is not None
    m = _URL.match(spec)
    spec = f"{m['at']}{url}{m['tail']}" if m else f" @ {url}"
    if marker and not marker[:1].isspace():  # PEP 508: a URL is followed by whitespace before `;`
        marker = " " + marker
    return f"{head.rstrip() if not m else head}{spec}{marker}"


def pin_requirements(text: str, new: Callable[[str], str]) -> tuple[str, int]:
    """Every vLLM requirement line rewritten by `new`; (text, how many)."""
    out, last, count = [], 0, 0
    for r in requirement_lines(text):
        if _is_vllm(r.text):
            out += [text[last:r.start], new(r.text)]
            last, count = r.end, count + 1
    out.append(text[last:])
    return "".join(out), count


def pin_pyproject(text: str, new: Callable[[str], str]) -> tuple[str, int]:
    """Every vLLM requirement of [project] (dependencies, optional-dependencies) and [dependency-groups]
    rewritten by `new` through tomlkit, which keeps every other byte; (text, how many)."""
    import tomlkit
    from tomlkit.items import String, StringType

    doc = tomlkit.parse(text)
    count = 0

    def fix(items) -> None:
        nonlocal count
        if not isinstance(items, list):
            return
        for i, item in enumerate(items):
            if isinstance(item, str) and _is_vllm(str(item)):
                value = new(str(item))
                if value != str(item):
                    literal = isinstance(item, String) and item.type == StringType.SLL and "'" not in value
                    items[i] = tomlkit.string(value, literal=literal)
                count += 1

    project = doc.get("project")
    if isinstance(project, dict):
        fix(project.get("dependencies"))
        for items in (project.get("optional-dependencies") or {}).values():
            fix(items)
    for items in (doc.get("dependency-groups") or {}).values():
        fix(items)
    return doc.as_string(), count


def retarget_to(text: str, requirement: str) -> str:
    """`text` (a requirement on vLLM as written) asking for what `requirement` asks: an exact version keeps
    the spacing of an exact pin, a direct reference its `@`, anything else replaces the specifier."""
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    if req.url:
        return retarget(text, url=req.url)
    specs = list(req.specifier)
    if len(specs) == 1 and specs[0].operator == "==":
        return retarget(text, version=specs[0].version)
    head, _, marker = split(text)
    if marker and not marker[:1].isspace():
        marker = " " + marker
    return f"{head.rstrip()}{req.specifier}{marker}"
