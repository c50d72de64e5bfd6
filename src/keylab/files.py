"""Writing files so that a reader, a crash or Ctrl-C never sees half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`.

    `mode` (e.g. 0o600 for a file holding a key) is set before any byte is written, so the secret is
    never readable by others, not even for a moment."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.chmod(temp_name, mode)
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
