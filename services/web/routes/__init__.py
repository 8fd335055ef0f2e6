"""One module per area of the web application, each with a `router`; `routers()` finds every one of
them by name, so adding an area is adding a module. (Found on call, not at import: a route module may
import the API package, which mounts the web application.)"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    return [importlib.import_module(f"{__name__}.{name}").router for name in names]
