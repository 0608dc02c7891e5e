"""Rewriting the vLLM requirement of pyproject.toml and requirements files: only that requirement changes,
extras and markers stay, and pinning back to the committed exact pin gives the committed bytes."""
from __future__ import annotations

import os
import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from vline.edits.python_pin import pin_pyproject, pin_requirements, retarget
from vline.python_reqs import in_pyproject, in_requirements

EXAMPLES = int(os.environ.get("VLINE_FUZZ_EXAMPLES", "200"))
REV = "0decac0d96c42b49572498019f0a0e3600f50398"
URL = f"git+https://github.com/vllm-project/vllm.git@{REV}"

versions = st.sampled_from(["0.21.0", "0.22.1", "0.23.0", "0.10.1.1", "0.8.5.post1", "0.26.1rc0"])
extras = st.sampled_from(["", "[audio]", "[audio,video]", " [tensorizer] "])
markers = st.sampled_from(["", ' ; python_version >= "3.10"', "; sys_platform == 'linux'", "  ;extra=='gpu'"])
specs = st.one_of(versions.map(lambda v: f"=={v}"), versions.map(lambda v: f" == {v}"),
                  st.sampled_from([">=0.10,<0.22", " >=0.10, <0.24", "~=0.22.0", "", f" @ {URL} "]))
# a URL must be followed by whitespace before its marker (PEP 508)
reqs = st.builds(lambda e, s, m: f"vllm{e}{s}{' ' if s.startswith(' @') and m and not m[:1].isspace() else ''}{m}",
                 extras, specs, markers)
others = st.lists(st.sampled_from(["numpy>=1", "torch", "requests[socks]==2.32.3", "pyyaml ; python_version>'3'"]),
                  max_size=3)
comments = st.sampled_from(["", "  # the engine", "\t# pinned by vline"])


def pyproject(before: list[str], req: str, after: list[str], comment: str, literal: bool) -> str:
    q = "'" if (literal or '"' in req) and "'" not in req else '"'
    body = "".join(f'    "{o}",\n' for o in before) + f"    {q}{req}{q},{comment}\n" + "".join(f'    "{o}",\n' for o in after)
    return (f'[project]\nname = "plugin"  # a vLLM plugin\nversion = "0.1.0"\ndependencies = [\n{body}]\n\n'
            '[tool.other]\nkeep = "me"\n')


@settings(max_examples=EXAMPLES, deadline=None)
@given(before=others, req=reqs, after=others, comment=comments, literal=st.booleans(), a=versions, b=versions)
def test_pyproject_pin_touches_only_the_requirement(before, req, after, comment, literal, a, b):
    text = pyproject(before, req, after, comment, literal)
    pinned_a, n = pin_pyproject(text, lambda r: retarget(r, version=a))
    assert n == 1
    pinned_ab, _ = pin_pyproject(pinned_a, lambda r: retarget(r, version=b))
    assert pinned_ab == pin_pyproject(text, lambda r: retarget(r, version=b))[0] or "==" not in req
    new = tomllib.loads(pinned_a)["project"]["dependencies"]
    old = tomllib.loads(text)["project"]["dependencies"]
    vllm = [r for r in new if Requirement(r).name == "vllm"][0]
    parsed, orig = Requirement(vllm), Requirement(req)
    assert str(parsed.specifier) == f"=={a}" and parsed.extras == orig.extras and parsed.marker == orig.marker
    assert [r for r in new if Requirement(r).name != "vllm"] == [r for r in old if Requirement(r).name != "vllm"]
    changed = [i for i, (x, y) in enumerate(zip(text.splitlines(), pinned_a.splitlines())) if x != y]
    assert len(text.splitlines()) == len(pinned_a.splitlines()) and len(changed) <= 1
    if Requirement(req).specifier and list(Requirement(req).specifier)[0].operator == "==":
        committed = list(Requirement(req).specifier)[0].version
        assert pin_pyproject(pinned_a, lambda r: retarget(r, version=committed))[0] == text  # back: same bytes


@settings(max_examples=EXAMPLES, deadline=None)
@given(before=others, req=reqs, after=others, comment=comments, a=versions)
def test_requirements_pin_touches_only_the_requirement(before, req, after, comment, a):
    text = "".join(f"{o}\n" for o in before) + f"{req.strip()}{comment}\n" + "-r other.txt\n" + \
        "".join(f"{o}\n" for o in after)
    pinned, n = pin_requirements(text, lambda r: retarget(r, url=URL))
    assert n == 1
    lines, new_lines = text.splitlines(), pinned.splitlines()
    assert len(lines) == len(new_lines)
    diff = [(x, y) for x, y in zip(lines, new_lines) if x != y]
    assert len(diff) <= 1
    for old_line, new_line in diff:
        assert new_line.endswith(comment) or not comment
        assert Requirement(new_line.split("#")[0].strip()).url == URL.removeprefix("")


def test_finders_name_file_line_and_section(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\ndependencies = [\n  "numpy",\n  "vllm>=0.10,<0.22",\n]\n'
                 '[project.optional-dependencies]\ngpu = ["vllm[audio]==0.22.1"]\n'
                 '[dependency-groups]\ntest = ["pytest", {include-group = "x"}, "VLLM>=0.9"]\n')
    found = in_pyproject(p, "pyproject.toml")
    assert [(f.line, f.section, f.text, f.exact) for f in found] == [
        (5, "project.dependencies", "vllm>=0.10,<0.22", None),
        (8, "project.optional-dependencies.gpu", "vllm[audio]==0.22.1", "0.22.1"),
        (10, "dependency-groups.test", "VLLM>=0.9", None)]
    r = tmp_path / "requirements.txt"
    r.write_text("# deps\n--index-url https://x\nnumpy\nvllm==0.23.0 # engine\n")
    (f,) = in_requirements(r, "requirements.txt")
    assert (f.line, f.text, f.exact) == (4, "vllm==0.23.0", "0.23.0")


def test_hashes_belong_to_the_requirement_whose_logical_line_holds_them(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("numpy==2.0 \\\n    --hash=sha256:" + "a" * 64 + "\nvllm==0.23.0\n"
                    "-r other.txt \\\n    --hash=sha256:" + "b" * 64 + "\nvllm[audio]==0.23.0 --hash=sha256:" + "c" * 64 + "\n")
    found = in_requirements(path)
    assert [(f.line, f.hashed) for f in found] == [(3, False), (6, True)]
