"""``ui.png`` writes a window grab as a PNG that reads back pixel for pixel.

The screenshot's writer is ours (faster than ``QImage.save``, issue 3's cold
start), so these tests check the file itself: the chunk layout and CRCs a
strict reader insists on, unfiltered rows, and Qt's own reader giving back
every pixel, including rows whose RGB bytes are padded in memory.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


def _image(width: int, height: int, fmt=None):  # type: ignore[no-untyped-def]
    """A test card: every pixel different from its neighbours."""
    from ui.qt import QtGui

    fmt = fmt or QtGui.QImage.Format.Format_RGB32
    image = QtGui.QImage(width, height, fmt)
    for y in range(height):
        for x in range(width):
            image.setPixel(x, y, QtGui.qRgb((x * 37 + y) % 256, (y * 11) % 256,
                                            (x * y + 5) % 256))
    return image


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        assert crc == zlib.crc32(body, zlib.crc32(kind)), kind
        out.append((kind, body))
        at += 12 + length
    return out


@pytest.mark.parametrize("width", [1, 37, 64])  # 37 px: RGB rows padded to 4 bytes in memory
def test_written_png_reads_back_pixel_for_pixel(qapp, tmp_path: Path, width: int) -> None:  # type: ignore[no-untyped-def]
    from ui.png import write_png
    from ui.qt import QtGui

    image = _image(width, 23)
    out = tmp_path / "card.png"
    write_png(image, out)
    back = QtGui.QImage(str(out))
    assert not back.isNull()
    assert back.size() == image.size()
    assert back.convertToFormat(QtGui.QImage.Format.Format_RGB32) == image


def test_png_is_8_bit_rgb_with_unfiltered_rows(qapp) -> None:  # type: ignore[no-untyped-def]
    from ui.png import png_bytes

    data = png_bytes(_image(5, 3))
    chunks = _chunks(data)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", chunks[0][1]) == (5, 3, 8, 2, 0, 0, 0)
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == 3 * (1 + 5 * 3)
    assert raw[0] == raw[16] == raw[32] == 0  # filter type "none" on every row


def test_a_translucent_grab_is_written_opaque(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ui.png import write_png
    from ui.qt import QtGui

    image = _image(9, 4, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    out = tmp_path / "argb.png"
    write_png(image, out)
    back = QtGui.QImage(str(out))
    assert not back.hasAlphaChannel()
    assert back.convertToFormat(QtGui.QImage.Format.Format_RGB32) == \
        image.convertToFormat(QtGui.QImage.Format.Format_RGB32)


def test_empty_image_and_unwritable_path_are_refused(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ui.png import write_png
    from ui.qt import QtGui

    with pytest.raises(ValueError):
        write_png(QtGui.QImage(), tmp_path / "empty.png")
    with pytest.raises(OSError):
        write_png(_image(2, 2), tmp_path)  # a folder, not a file
