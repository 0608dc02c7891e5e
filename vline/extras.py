"""Optional dependencies: the commands a CI leg calls need none of them; the rest say which extra to install."""
from __future__ import annotations

import importlib.util

from .errors import EnvironmentFailure

EXTRAS = {"s3": "golden fetch/verify/upload and gate", "capture": "vline capture"}


def need(module: str, extra: str) -> None:
    """Exit 3 with one line naming the extra when `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise EnvironmentFailure(f"{EXTRAS[extra]} needs {module.split('.')[0]}, which is not installed: "
                                 f"pip install 'vline[{extra}]'")
