"""Draw the dashboard's icon: `favicon.svg` (for <link rel=icon>) and `favicon.ico` (a 32x32 PNG in an
ICO file, for browsers and tools that ask for /favicon.ico). Both come from the shapes below.

    .venv/bin/python tools/make_favicon.py     # rewrites src/keylab/sandbox/dashboard/static/favicon.*
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "src" / "keylab" / "sandbox" / "dashboard" / "static"
SIZE = 32
GREEN = (0x10, 0xA3, 0x7F)  # the dashboard's --accent
RADIUS = 7
# A white "k" as three strokes on a 32x32 grid: (x1, y1, x2, y2), drawn 4.5 units wide.
STROKES = [(11, 7, 11, 25), (21, 10, 12.5, 18), (14.5, 17, 21.5, 25)]
WIDTH = 4.5


def svg() -> str:
    lines = "".join(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>' for x1, y1, x2, y2 in STROKES)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}">'
        f'<rect width="{SIZE}" height="{SIZE}" rx="{RADIUS}" fill="#{bytes(GREEN).hex()}"/>'
        f'<g stroke="#fff" stroke-width="{WIDTH}" stroke-linecap="round">{lines}</g></svg>\n'
    )


def _distance(px: float, py: float, x1: float, y1: float, x2: float, y2: float) -> float:
    dx, dy = x2 - x1, y2 - y1
    t = max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / (dx * dx + dy * dy or 1)))
    return ((px - x1 - t * dx) ** 2 + (py - y1 - t * dy) ** 2) ** 0.5


def _coverage(x: int, y: int, inside: object) -> float:
    """Share of a pixel inside a shape, from 4x4 samples (anti-aliasing)."""
    hits = sum(inside(x + (i + 0.5) / 4, y + (j + 0.5) / 4) for i in range(4) for j in range(4))  # type: ignore[operator]
    return hits / 16


def _in_square(px: float, py: float) -> bool:
    cx = min(max(px, RADIUS), SIZE - RADIUS)
    cy = min(max(py, RADIUS), SIZE - RADIUS)
    return (px - cx) ** 2 + (py - cy) ** 2 <= RADIUS**2


def _in_k(px: float, py: float) -> bool:
    return any(_distance(px, py, *stroke) <= WIDTH / 2 for stroke in STROKES)


def png() -> bytes:
    rows = []
    for y in range(SIZE):
        row = bytearray([0])  # filter: none
        for x in range(SIZE):
            alpha = _coverage(x, y, _in_square)
            white = _coverage(x, y, _in_k) if alpha else 0.0
            rgb = [round(c * (1 - white) + 255 * white) for c in GREEN]
            row += bytes([*rgb, round(alpha * 255)])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


def ico(image: bytes) -> bytes:
    """An ICO file holding one PNG image (supported by every current browser)."""
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", SIZE, SIZE, 0, 0, 1, 32, len(image), 22) + image


def main() -> None:
    (STATIC / "favicon.svg").write_text(svg(), encoding="utf-8")
    (STATIC / "favicon.ico").write_bytes(ico(png()))


if __name__ == "__main__":
    main()
