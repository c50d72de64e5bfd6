"""Random bytes for ids, read from the OS in blocks rather than one system call per id.

Every request makes two ids (request id, completion id); `getrandom` costs far more per call than
the bytes themselves here (~0.1 ms per call on the sandboxed CI boxes). The bytes are the same
cryptographic OS randomness, just fetched 4 KiB at a time. A forked child starts a fresh block,
so parent and child never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

_BLOCK = 4096
_lock = threading.Lock()
_buffer = b""
_offset = 0


def token_bytes(n: int) -> bytes:
    """`n` bytes from os.urandom (drawn in blocks; never reused)."""
    global _buffer, _offset
    if n > _BLOCK // 4:
        return os.urandom(n)
    with _lock:
        end = _offset + n
        if end > len(_buffer):
            _buffer, _offset, end = os.urandom(_BLOCK), 0, n
        chunk = _buffer[_offset:end]
        _offset = end
        return chunk


def token_hex(n: int) -> str:
    return token_bytes(n).hex()


def _forget() -> None:
    global _buffer, _offset, _lock
    _buffer, _offset, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget)
