"""One module per concept; each defines ``ROUTES`` and ``NAV`` (see :mod:`prodml.ui`)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    """Every view module, in navigation order (modules without a NAV entry last)."""
    found = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(found, key=lambda m: (m.NAV[2] if m.NAV else 1000, m.__name__))
