"""The pixel limit on decoded images, read from compressed headers as the decoders read them.

A compressed image declares its size in its header; a small message can declare a huge image
(a decompression bomb). :func:`compressed_size` reads that size before anything is decoded:
for JPEG it walks the markers the way libjpeg does (fill bytes, ``FF 00`` and other bytes
between markers skipped one by one, standalone markers, segments skipped by their length) up
to the first start-of-scan, and refuses what libjpeg would refuse, so the size checked is the
size the decoder will use. OpenCV is also told the same limit (``OPENCV_IO_MAX_IMAGE_PIXELS``)
as a second wall; :func:`limit_opencv` must run before cv2 is first imported, which importing
:mod:`affect_perception.runtime` does.
"""

from __future__ import annotations

import os

# Largest image accepted, in pixels (width × height): 100 megapixels, well above 8K UHD
# (7680 × 4320 = 33 MP); larger sizes are taken for corrupt headers, not cameras.
MAX_PIXELS = 100_000_000
# The variable OpenCV (>= 3.4.2) reads its own decoding limit from, at import.
OPENCV_VARIABLE = "OPENCV_IO_MAX_IMAGE_PIXELS"

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers (they carry the image size): C0..CF except DHT, JPG and DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field that libjpeg passes over: TEM, RST0..7.
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])
# Markers with a length field that libjpeg reads or skips before the scan: DHT, DAC, DQT,
# DNL, DRI, APP0..15, COM (and the SOFn above).
_SEGMENTS = frozenset([0xC4, 0xCC, 0xDB, 0xDC, 0xDD, *range(0xE0, 0xF0), 0xFE])
_SOS, _EOI, _SOI = 0xDA, 0xD9, 0xD8


class PixelLimitError(ValueError):
    """A compressed header that declares no size, too large a size, or that libjpeg refuses."""


def limit_opencv(limit: int = MAX_PIXELS) -> None:
    """Make OpenCV refuse images over ``limit`` pixels itself (a stricter value set is kept).

    Effective only before cv2's first import in the process.
    """
    current = os.environ.get(OPENCV_VARIABLE, "")
    if not current.isdigit() or int(current) > limit:
        os.environ[OPENCV_VARIABLE] = str(limit)


def check_pixels(width: int, height: int, limit: int = MAX_PIXELS) -> None:
    """Raise PixelLimitError when ``width`` × ``height`` exceeds ``limit``."""
    if width * height > limit:
        raise PixelLimitError(
            f"width × height = {width} × {height} exceeds the limit of {limit} pixels"
        )


def _next_marker(data: bytes, i: int) -> tuple[int, int]:
    """(marker, index after it) of the next marker at or after ``i``, as libjpeg finds it:
    bytes that are not 0xFF, fill bytes and stuffed ``FF 00`` pairs are passed over."""
    end = len(data)
    while True:
        i = data.find(0xFF, i)
        if i < 0:
            break
        while i + 1 < end and data[i + 1] == 0xFF:
            i += 1
        if i + 1 >= end:
            break
        if data[i + 1] != 0x00:
            return data[i + 1], i + 2
        i += 2
    raise PixelLimitError("data: the JPEG ends before its start of scan")


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) of the frame libjpeg will decode; every SOFn up to the scan checked.

    Raises:
        PixelLimitError: no SOI first, no frame before the scan, two frames, a segment length
            under 2 or beyond the data, or a marker libjpeg does not skip.
    """
    if bytes(data[:2]) != JPEG_MAGIC[:2]:
        raise PixelLimitError("data does not start with a JPEG start-of-image marker")
    i, size = 2, None
    while True:
        marker, i = _next_marker(data, i)
        if marker == _SOS:
            if size is None:
                raise PixelLimitError("data: the JPEG scan starts before any frame header")
            return size
        if marker in _STANDALONE:
            continue
        if marker in (_EOI, _SOI) or (marker not in _SEGMENTS and marker not in _SOF):
            raise PixelLimitError(f"data: JPEG marker 0x{marker:02X} before the scan")
        if i + 2 > len(data):
            break
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > len(data):
            raise PixelLimitError(f"data: JPEG segment 0x{marker:02X} has a bad length {length}")
        if marker in _SOF:
            if size is not None or length < 7:
                raise PixelLimitError("data: a second or short JPEG frame header")
            height = int.from_bytes(data[i + 3 : i + 5], "big")
            width = int.from_bytes(data[i + 5 : i + 7], "big")
            check_pixels(width, height)
            size = width, height
        i += length
    raise PixelLimitError("data: the JPEG ends before its start of scan")


def png_size(data: memoryview) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which PNG requires first; every chunk length is
    checked against the data (OpenCV allocates a chunk's stated length before reading it: a
    forged length of 4 GB in a 1 kB message made a 4 GB allocation)."""
    if bytes(data[12:16]) != b"IHDR" or len(data) < 24:
        raise PixelLimitError("data: the PNG does not begin with its IHDR header")
    at = len(PNG_MAGIC)
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        if at + 12 + length > len(data):
            raise PixelLimitError(
                f"data: PNG chunk {bytes(data[at + 4 : at + 8])!r} at byte {at} "
                f"says {length} bytes, more than the data holds"
            )
        if bytes(data[at + 4 : at + 8]) == b"IEND":
            break
        at += 12 + length
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def compressed_size(data: memoryview) -> tuple[int, int]:
    """(width, height) a JPEG or PNG header declares, checked against the pixel limit.

    Raises:
        PixelLimitError: not JPEG or PNG, no size, a zero side, or over the limit.
    """
    magic = bytes(data[:8])
    if magic.startswith(PNG_MAGIC):
        size = png_size(data)
    elif magic.startswith(JPEG_MAGIC):
        size = jpeg_size(bytes(data))  # one copy: bytes.find skips non-marker bytes in C
    else:
        raise PixelLimitError("data does not start with a JPEG or PNG signature")
    if 0 in size:
        raise PixelLimitError(f"data: the header gives no image size (got {size})")
    check_pixels(*size)
    return size
