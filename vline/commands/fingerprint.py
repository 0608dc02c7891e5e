"""`vline fingerprint`: the config_hash of a deployment, or the one a trace was stamped with."""
from __future__ import annotations

from pathlib import Path

from .. import emit, fingerprint, trace, ui
from ..errors import InputError


def from_trace(path: Path, as_json: bool) -> None:
    """The meta a trace was stamped with: `key=value` lines (config_hash first), or the object as JSON."""
    meta = trace.read_meta(path)
    if not isinstance(meta.get("config_hash"), str):
        raise InputError("the trace is not stamped: its meta has no config_hash", path=str(path))
    if as_json:
        ui.result_json(meta)
        return
    for key in meta:
        if not emit.NAME.match(key):
            raise InputError(f"meta key {key!r} cannot be written as key=value (it is not a plain name); "
                             "use --json", path=str(path), line=trace.meta_line(path))
    emit.kv({"config_hash": meta["config_hash"], **meta})


def compute(gpu: str | None, tag: str | None, engine_config: str | None, flags: dict[str, object],
            as_json: bool) -> None:
    missing = [f"--{n}" for n, v in (("gpu", gpu), ("vllm-tag", tag)) if not v]
    if engine_config is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v is not None and k != "speculative"]
        if given:
            raise InputError(f"give either --engine-config or the flags, not both ({', '.join(given)})")
        cfg = fingerprint.parse_engine_config(engine_config)
    else:
        names = {"tensor_parallel": "--tp", "enable_prefix_caching": "--prefix-caching/--no-prefix-caching",
                 "enforce_eager": "--enforce-eager/--no-enforce-eager"}
        missing += [names.get(k, f"--{k.replace('_', '-')}") for k, v in flags.items() if v is None]
        if missing:
            raise InputError(f"missing {', '.join(missing)} (or pass --engine-config)")
        cfg = fingerprint.engine_config(flags)
    if missing:
        raise InputError(f"missing {', '.join(missing)}")
    digest = fingerprint.config_hash(gpu, tag, cfg)  # type: ignore[arg-type]
    if as_json:
        ui.result_json({"config_hash": digest, "scheme": fingerprint.SCHEME, "gpu": gpu, "vllm_tag": tag,
                        "engine_config": cfg})
    else:
        ui.result(digest)
