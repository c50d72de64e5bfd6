"""Checkers for the labs: one module per lab, `labNN.py`, imported lazily by exercise id.

`check("02.1")` imports `keylab.labs.exercises.lab02` on first use; lab `00` is `example.py`, a
small module that documents the pattern and that keylab's own tests use. A lab module only has to
define checkers with `@exercise("NN.K", names=[...])`; it may also set `TITLE = "..."`, which
`keylab progress` shows next to the lab number.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

EXAMPLE_LAB = "00"
_LAB_MODULE = re.compile(r"^lab(?P<lab>\d{2})$")


def module_name(lab: str) -> str:
    """`02` → `keylab.labs.exercises.lab02` (`00` → the example module)."""
    return f"{__name__}.{'example' if lab == EXAMPLE_LAB else f'lab{lab}'}"


def import_lab(lab: str) -> ModuleType | None:
    """Import lab `NN`'s checker module; None if the course has no such module."""
    name = module_name(lab)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:  # the lab module itself is missing, not one of its imports
            return None
        raise


def course_labs() -> list[str]:
    """Lab numbers that have a checker module (the example lab excluded), sorted."""
    labs = []
    for info in pkgutil.iter_modules(__path__):
        match = _LAB_MODULE.match(info.name)
        if match:
            labs.append(match["lab"])
    return sorted(labs)


def lab_title(lab: str) -> str:
    """The lab module's `TITLE`, or "Lab NN" when it has none."""
    module = import_lab(lab)
    title = getattr(module, "TITLE", None) if module is not None else None
    return f"Lab {lab}: {title}" if title else f"Lab {lab}"
