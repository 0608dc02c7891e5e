"""Properties of the Cargo.toml pin edit over generated manifests (hypothesis)."""
from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from vline.cargo_toml import current
from vline.edits.pin import pin_text, tail_block

CRATE = "vllm-engine-core-client"
GIT = "https://github.com/vllm-project/vllm.git"
FORK = "https://github.com/wseaton/vllm.git"
hexrev = st.text("0123456789abcdef", min_size=40, max_size=40)
fork = st.one_of(st.none(), st.tuples(st.sampled_from([FORK, "file:///tmp/fork", "ssh://git@host/v.git"]), hexrev))
comment = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30).map(lambda s: f"# {s}")
pad = st.sampled_from(["", " ", "   ", "\t"])


@st.composite
def manifests(draw) -> tuple[str, str]:
    """A manifest declaring the crate in one of the forms Cargo accepts, committed at `rev`."""
    rev = draw(hexrev)
    workspace = draw(st.booleans())
    section = "workspace.dependencies" if workspace else "dependencies"
    quote = draw(st.sampled_from(['"', "'"]))
    trailing = draw(st.sampled_from(["", "  # pinned by vline", " #x"]))
    if draw(st.booleans()):
        a, b = draw(pad), draw(pad)
        keys = [f'git ={a}"{GIT}"', f"rev{b}= {quote}{rev}{quote}"]
        if draw(st.booleans()):
            keys.insert(1, 'default-features = false')
        dep = f"[{section}]\n" + "\n".join(draw(st.lists(comment, max_size=2))) + \
              f"\n{CRATE} = {{ {', '.join(keys)} }}{trailing}\nserde = \"1\"\n"
    else:
        dep = (f"[{section}.{CRATE}]\n" + f'git = "{GIT}"\n' + f"rev = {quote}{rev}{quote}{trailing}\n"
               + ("features = [\"a\"]\n" if draw(st.booleans()) else ""))
    head = "[workspace]\nmembers = [\"sim\"]\n" if workspace else "[package]\nname = \"sim\"\nversion = \"0.1.0\"\n"
    tail_tables = draw(st.lists(st.sampled_from([
        "[profile.release]\nlto = true\n", "[features]\ndefault = []\n",
        '[patch.crates-io]\nserde = { path = "../serde" }\n', "[workspace.metadata.x]\nk = 1\n",
    ]), unique=True, max_size=3))
    parts = [*draw(st.lists(comment, max_size=3)), head, dep, *tail_tables]
    seps = [draw(st.sampled_from(["\n", "\n\n", "\n\n\n"])) for _ in parts]
    text = "".join(p.rstrip("\n") + s for p, s in zip(parts, seps))
    if workspace is False and "[workspace.metadata" in text:
        text = text.replace("[workspace.metadata.x]\nk = 1\n", "")
    return text, rev


def pin(text: str, rev: str, f):
    return pin_text(text, CRATE, rev, f)


@settings(max_examples=300, deadline=None)
@given(manifests(), hexrev, fork, hexrev, fork)
def test_pin_a_then_b_equals_pin_b(m, rev_a, fork_a, rev_b, fork_b):
    text, _ = m
    assert pin(pin(text, rev_a, fork_a), rev_b, fork_b) == pin(text, rev_b, fork_b)


@settings(max_examples=300, deadline=None)
@given(manifests(), hexrev, fork)
def test_pinning_back_restores_every_byte(m, rev, f):
    text, committed = m
    assert pin(pin(text, rev, f), committed, None) == text
    assert pin(text, committed, None) == text  # idempotent at the committed line


@settings(max_examples=300, deadline=None)
@given(manifests(), hexrev, fork)
def test_only_the_rev_and_the_fork_block_change(m, rev, f):
    text, committed = m
    out = pin(text, rev, f)
    if f:
        block = tail_block(GIT, CRATE, *f)
        assert out.endswith(block)
        out = out[: -len(block)]
    # the one remaining difference is the rev value itself
    assert out.replace(rev, committed) == text
    assert out.count(rev) == text.count(committed)
    pinned = current(tomllib.loads(pin(text, rev, f)), CRATE, "Cargo.toml")
    assert pinned.rev == rev
    assert (pinned.patch_repo, pinned.patch_rev) == (f if f else (None, None))


def test_user_patch_block_is_edited_in_place():
    """A [patch] the user wrote mid-file, sharing its table with another crate, is edited where it is."""
    rev = "1" * 40
    text = (f'[workspace.dependencies]\n{CRATE} = {{ git = "{GIT}", rev = "{rev}" }}\n\n'
            f'[patch."{GIT}"]\n{CRATE} = {{ git = "{FORK}", rev = "{"2" * 40}" }} # mine\n'
            f'other = {{ path = "../other" }}\n\n[profile.dev]\ndebug = false\n')
    moved = pin(text, rev, (FORK, "3" * 40))
    assert moved == text.replace("2" * 40, "3" * 40)
    removed = pin(text, rev, None)
    assert f"{CRATE} = {{ git = \"{FORK}\"" not in removed
    assert 'other = { path = "../other" }' in removed and "[profile.dev]" in removed
    # the table is kept for the other crate; no bare [patch] header appears
    assert "\n[patch]\n" not in removed and f'[patch."{GIT}"]' in removed
