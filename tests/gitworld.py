"""Real git repositories for the tests: an upstream whose wire crate drifts across tagged commits,
a fork carrying a backport, and a Cargo workspace that depends on the crate through file:// URLs.

upstream history (main):
  v0.21.0  the crate does not exist yet (annotated tag)
  v0.22.1  crate 0.1.0, WIRE = "v0.22.1" (lightweight tag)
  v0.23.0  crate 0.2.0, WIRE = "v0.23.0"; EngineCoreRequest gains `priority` (annotated tag)
  main     crate 0.3.0, WIRE = "main"
fork: v0.22.1 + the serde-defaults backport (WIRE = "v0.22.1+backport"), and a broken commit whose
crate is a pre-release that cannot satisfy the dependency (Cargo reports the patch unused).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

CRATE = "vllm-engine-core-client"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "vline tests", "GIT_AUTHOR_EMAIL": "tests@vline.invalid",
    "GIT_COMMITTER_NAME": "vline tests", "GIT_COMMITTER_EMAIL": "tests@vline.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _crate_files(version: str, wire: str, priority: bool) -> dict[str, str]:
    fields = "    pub prompt_token_ids: Vec<u32>,\n" + ("    pub priority: i32,\n" if priority else "")
    return {
        f"rust/{CRATE}/Cargo.toml": textwrap.dedent(f"""\
            [package]
            name = "{CRATE}"
            version = "{version}"
            edition = "2021"

            [lib]
            path = "src/lib.rs"
            """),
        f"rust/{CRATE}/src/lib.rs": textwrap.dedent(f"""\
            pub const WIRE: &str = "{wire}";

            #[derive(Debug, Default, Clone)]
            pub struct EngineCoreRequest {{
            {fields}}}
            """),
    }


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        p = repo / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class World:
    root: Path
    upstream: Path
    fork: Path
    revs: dict[str, str] = field(default_factory=dict)
    template: Path | None = None

    @property
    def upstream_url(self) -> str:
        return self.upstream.as_uri()

    @property
    def fork_url(self) -> str:
        return self.fork.as_uri()

    def compat_text(self, *, fork_url: str | None = None) -> str:
        fork_url = fork_url or self.fork_url
        r = self.revs
        return textwrap.dedent(f"""\
            # test window
            [vline]
            upstream = "{self.upstream_url}"
            image = "localhost/vline-sim"

            [[vllm]]
            line = "nightly"
            tag = "nightly"
            protocol_rev = "{r['main']}"

            [[vllm]]
            line = "0.23"     # the default
            tag = "v0.23.0"
            protocol_rev = "{r['v0.23.0']}"
            default = true

            [[vllm]]
            line = "0.22"
            tag = "v0.22.1"
            protocol_rev = "{r['v0.22.1']}"
            patch_repo = "{fork_url}"
            patch_rev = "{r['fork']}"

            [[vllm]]
            line = "0.21"
            tag = "v0.21.0"
            protocol_rev = "{r['v0.22.1']}"
            patch_repo = "{fork_url}"
            patch_rev = "{r['fork']}"
            """)

    def cargo_toml(self) -> str:
        return textwrap.dedent(f"""\
            # Simulator workspace: the wire crate is pinned by `vline pin`; do not edit its rev by hand.
            [workspace]
            resolver = "2"
            members = ["sim"]   # the simulator

            [workspace.package]
            version = "0.4.2"

            [workspace.dependencies]
            # the wire crate, one rev per vLLM line
            {CRATE} = {{ git = "{self.upstream_url}",   rev = "{self.revs['v0.23.0']}" }}  # default line

            [profile.dev]
            debug = false
            """)

    def new_workspace(self, dest: Path) -> Path:
        """A fresh copy of the workspace (manifest, lock, compat.toml), committed at the default line."""
        assert self.template is not None
        shutil.copytree(self.template, dest, ignore=shutil.ignore_patterns("target"))
        return dest


def build(root: Path) -> World:
    upstream, fork = root / "upstream", root / "fork"
    upstream.mkdir(parents=True)
    git(upstream, "init", "-q", "-b", "main")
    w = World(root, upstream, fork)
    w.revs["v0.21.0"] = commit(upstream, {"README.md": "vllm\n"}, "v0.21.0")
    git(upstream, "tag", "-a", "v0.21.0", "-m", "v0.21.0")
    w.revs["v0.22.1"] = commit(upstream, _crate_files("0.1.0", "v0.22.1", False), "v0.22.1: add the client crate")
    git(upstream, "tag", "v0.22.1")
    w.revs["v0.23.0"] = commit(upstream, _crate_files("0.2.0", "v0.23.0", True), "v0.23.0: request priority")
    git(upstream, "tag", "-a", "v0.23.0", "-m", "v0.23.0")
    w.revs["main"] = commit(upstream, _crate_files("0.3.0", "main", True), "main moves on")

    git(root, "clone", "-q", str(upstream), str(fork))
    git(fork, "checkout", "-q", "-b", "backport", "v0.22.1")
    w.revs["fork"] = commit(fork, _crate_files("0.1.0", "v0.22.1+backport", False), "serde-defaults backport")
    w.revs["fork_broken"] = commit(fork, _crate_files("0.1.1-broken.1", "broken", False), "a pre-release crate")

    ws = root / "workspace"
    (ws / "sim" / "src").mkdir(parents=True)
    (ws / "Cargo.toml").write_text(w.cargo_toml())
    (ws / "sim" / "Cargo.toml").write_text(textwrap.dedent(f"""\
        [package]
        name = "sim"
        version.workspace = true
        edition = "2021"

        [dependencies]
        {CRATE}.workspace = true
        """))
    (ws / "sim" / "src" / "main.rs").write_text(textwrap.dedent("""\
        fn main() {
            let req = vllm_engine_core_client::EngineCoreRequest::default();
            println!("{} {}", vllm_engine_core_client::WIRE, req.prompt_token_ids.len());
        }
        """))
    (ws / "compat.toml").write_text(w.compat_text())
    subprocess.run(["cargo", "generate-lockfile", "--manifest-path", str(ws / "Cargo.toml")], check=True,
                   capture_output=True)
    w.template = ws
    return w
