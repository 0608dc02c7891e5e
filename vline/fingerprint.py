"""The config fingerprint `config-fingerprint-v3` (SPEC §4). Stamped hashes are compared, never recomputed."""
from __future__ import annotations


from .errors import InputError, quote

SCHEME = "config-fingerprint-v3"
KEYS = ("block_size", "enable_prefix_caching", "enforce_eager", "gpu_memory_utilization",
        "max_model_len", "max_num_seqs", "model", "speculative", "tensor_parallel")


def render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(name: str, value: str) -> str:
    if "\n" in value or "\r" in value or ";" in value:
        raise InputError(f"{name}: {quote(value)} contains a newline or ';', which the fingerprint cannot carry",
                         path="fingerprint")
    return value


def engine_config(flags: dict[str, object]) -> str:
    """`key=value` pairs sorted by key, joined with `;`."""
    unknown = sorted(set(flags) - set(KEYS))
    missing = [k for k in KEYS if k not in flags]
    if unknown or missing:
        raise InputError("engine config: " + "; ".join(
            ([f"unknown keys {', '.join(unknown)}"] if unknown else [])
            + ([f"missing keys {', '.join(missing)}"] if missing else [])), path="fingerprint")
    return ";".join(f"{k}={_check(k, render(flags[k]))}" for k in sorted(KEYS))


def parse_engine_config(text: str) -> str:
    """Canonicalise a given engine_config string: values verbatim, keys sorted, all present once."""
    _check("engine_config", text.replace(";", ""))
    flags: dict[str, object] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep:
            raise InputError(f"engine config: {quote(part)} is not key=value", path="fingerprint")
        if key in flags:
            raise InputError(f"engine config: key {quote(key)} given twice", path="fingerprint")
        flags[key] = value
    return engine_config(flags)


def config_hash(gpu: str, vllm_tag: str, engine_cfg: str) -> str:
    _check("gpu", gpu)
    _check("vllm_tag", vllm_tag)
    if "\n" in engine_cfg or "\r" in engine_cfg:
        raise InputError("engine_config contains a newline", path="fingerprint")
    text = f"{SCHEME}\ngpu={gpu}\nvllm_tag={vllm_tag}\nengine_config={engine_cfg}\n"
    import hashlib  # here: importing hashlib costs the commands that never hash ~3 ms

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
