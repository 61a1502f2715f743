"""Writing a window grab as a PNG file, for ``leadqueue --screenshot``.

``QImage.save`` hands every row to libpng's adaptive filtering (each row is
tried with all five PNG filters before it is deflated): about 25 ms for a
1440x900 window, a tenth of the whole cold start issue 3 bounds. Here each row
is stored unfiltered (filter type 0) and deflated at level 1: about 9 ms, and
for a screenshot of flat UI colours the file comes out smaller than Qt's.

The file is a plain 8-bit RGB PNG (no alpha: a window grab is opaque) that
any viewer reads; ``tests/test_png.py`` reads it back through Qt pixel for
pixel.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ui.qt import QtGui

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Deflate level 1: the fastest that still compresses (level 0 would write
#: 3.9 MB for a 1440x900 window).
LEVEL = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(image: QtGui.QImage) -> bytes:
    """``image`` (any format; alpha dropped) as the bytes of a PNG file."""
    rgb = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    if width <= 0 or height <= 0:
        raise ValueError("cannot write an empty image as PNG")
    pixels = memoryview(rgb.constBits()).cast("B")
    row_bytes = width * 3
    deflate = zlib.compressobj(LEVEL)
    unfiltered = b"\x00"  # every row starts with its filter type
    parts = []
    for top in range(0, height * stride, stride):
        parts.append(deflate.compress(unfiltered))
        parts.append(deflate.compress(pixels[top:top + row_bytes]))
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", b"".join(parts)),
                     _chunk(b"IEND", b"")))


def write_png(image: QtGui.QImage, path: str | Path) -> None:
    """Write ``image`` to ``path`` as PNG; OSError when the file cannot be written."""
    data = png_bytes(image)
    with open(path, "wb") as out:
        out.write(data)
