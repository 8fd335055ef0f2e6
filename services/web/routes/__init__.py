"""One module per area of the web application, each with a `router`; `ROUTERS` is every one of them,
found by name so that adding an area is adding a module."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

ROUTERS: list[APIRouter] = [
    importlib.import_module(f"{__name__}.{m.name}").router for m in sorted(pkgutil.iter_modules(__path__),
                                                                              key=lambda m: m.name)
]
