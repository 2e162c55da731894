"""Image decoding: every encoding against OpenCV references, malformed input, fuzzing."""

from __future__ import annotations

import array
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import skimage.data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affect_perception.runtime.image_decode import (
    CODECS,
    MAX_PIXELS,
    ImageDecodeError,
    decode_compressed,
    decode_compressed_msg,
    decode_image,
    decode_image_msg,
    encode_compressed,
    encode_image,
)

# Examples per fuzz test; the reliability run raises it (AFFECT_FUZZ_EXAMPLES=10000).
FUZZ_EXAMPLES = int(os.environ.get("AFFECT_FUZZ_EXAMPLES", "300"))
# Row padding added to every raw image in the round trips: odd, so 16-bit rows misalign.
PAD = 5

PHOTO = skimage.data.astronaut()[:240, 100:420]  # a real photo, 320 × 240, face included


def _gray_rgb(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


# encoding -> (bytes per pixel, OpenCV conversion of the packed pixels to RGB)
REFERENCE = {
    "rgb8": (3, None),
    "bgr8": (3, cv2.COLOR_BGR2RGB),
    "8UC3": (3, cv2.COLOR_BGR2RGB),
    "rgba8": (4, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, cv2.COLOR_BGRA2RGB),
    "mono8": (1, cv2.COLOR_GRAY2RGB),
    "8UC1": (1, cv2.COLOR_GRAY2RGB),
    "yuv422": (2, cv2.COLOR_YUV2RGB_UYVY),
    "yuv422_yuy2": (2, cv2.COLOR_YUV2RGB_YUY2),
    "bayer_rggb8": (1, cv2.COLOR_BayerBG2RGB),  # cv_bridge's pairing of the Bayer names
    "bayer_bggr8": (1, cv2.COLOR_BayerRG2RGB),
    "bayer_gbrg8": (1, cv2.COLOR_BayerGR2RGB),
    "bayer_grbg8": (1, cv2.COLOR_BayerGB2RGB),
}

# encoding -> largest mean absolute error of the round trip against the photo (or its grey)
ROUND_TRIP_ERROR = {
    "yuv422": 1.5,
    "yuv422_yuy2": 1.5,
    "bayer_rggb8": 4.0,
    "bayer_bggr8": 4.0,
    "bayer_gbrg8": 4.0,
    "bayer_grbg8": 4.0,
}


def _padded(data: bytes, height: int, step: int, pad: int = PAD) -> bytes:
    rows = np.frombuffer(data, np.uint8).reshape(height, step)
    return np.pad(rows, ((0, 0), (0, pad)), constant_values=0xAB).tobytes()


def test_every_encoding_has_a_reference() -> None:
    assert set(REFERENCE) | {"mono16"} == set(CODECS)


@pytest.mark.parametrize("encoding", sorted(REFERENCE))
def test_round_trip_matches_opencv(encoding: str) -> None:
    height, width = PHOTO.shape[:2]
    step, data = encode_image(PHOTO, encoding)
    bpp, code = REFERENCE[encoding]
    assert step == width * bpp and len(data) == step * height
    packed = np.frombuffer(data, np.uint8).reshape(height, width, bpp)
    reference = packed if code is None else cv2.cvtColor(packed, code)
    decoded = decode_image(encoding, width, height, step + PAD, False, _padded(data, height, step))
    assert decoded.shape == (height, width, 3) and decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, reference)
    original = _gray_rgb(PHOTO) if bpp == 1 and "bayer" not in encoding else PHOTO
    error = np.abs(decoded.astype(np.float32) - original).mean()
    assert error <= ROUND_TRIP_ERROR.get(encoding, 0.0)


@pytest.mark.parametrize("big", [False, True])
def test_mono16_honours_byte_order(big: bool) -> None:
    height, width = PHOTO.shape[:2]
    gray = cv2.cvtColor(PHOTO, cv2.COLOR_RGB2GRAY)
    values = (
        gray.astype(np.uint16) << 8
        | np.arange(gray.size, dtype=np.uint16).reshape(gray.shape) % 256
    )  # a low byte unlike the high one, so byte order shows
    data = values.astype(">u2" if big else "<u2").tobytes()
    padded = _padded(data, height, width * 2)
    decoded = decode_image("mono16", width, height, width * 2 + PAD, big, padded)
    np.testing.assert_array_equal(decoded, cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))
    wrong = decode_image("mono16", width, height, width * 2 + PAD, not big, padded)
    assert not np.array_equal(wrong, decoded)


@pytest.mark.parametrize("big", [False, True])
def test_mono16_round_trip(big: bool) -> None:
    height, width = PHOTO.shape[:2]
    step, data = encode_image(PHOTO, "mono16", is_bigendian=big)
    values = np.frombuffer(data, ">u2" if big else "<u2").reshape(height, width)
    np.testing.assert_array_equal(values, cv2.cvtColor(PHOTO, cv2.COLOR_RGB2GRAY) * np.uint16(257))
    decoded = decode_image("mono16", width, height, step + PAD, big, _padded(data, height, step))
    np.testing.assert_array_equal(decoded, _gray_rgb(PHOTO))


@pytest.mark.parametrize("encoding", ["bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8"])
def test_bayer_mosaic_follows_the_name(encoding: str) -> None:
    pure = {"r": (255, 0, 0), "g": (0, 255, 0), "b": (0, 0, 255)}
    pattern = encoding[6:10]
    for colour, rgb in pure.items():
        _, data = encode_image(np.full((2, 2, 3), rgb, np.uint8), encoding)
        assert [v == 255 for v in data] == [c == colour for c in pattern]


def test_rgb8_is_a_zero_copy_view() -> None:
    data = bytearray(PHOTO.tobytes())
    decoded = decode_image("rgb8", PHOTO.shape[1], PHOTO.shape[0], PHOTO.shape[1] * 3, 0, data)
    assert np.shares_memory(decoded, np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(decoded, PHOTO)


def test_8k_frame_decodes() -> None:
    width, height = 7680, 4320
    decoded = decode_image("bgr8", width, height, width * 3, 0, bytes(width * height * 3))
    assert decoded.shape == (height, width, 3)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, list, "array", "ndarray"])
def test_data_types(kind: type | str) -> None:
    step, data = encode_image(PHOTO, "bgr8")
    converted = {
        "array": lambda d: array.array("B", d),
        "ndarray": lambda d: np.frombuffer(d, np.uint8).reshape(PHOTO.shape),
    }
    value = converted[kind](data) if isinstance(kind, str) else kind(data)
    decoded = decode_image("bgr8", PHOTO.shape[1], PHOTO.shape[0], step, False, value)
    np.testing.assert_array_equal(decoded, PHOTO)


def test_messages_duck_typed() -> None:
    step, data = encode_image(PHOTO, "yuv422")
    msg = SimpleNamespace(
        encoding="yuv422",
        width=PHOTO.shape[1],
        height=PHOTO.shape[0],
        step=step,
        is_bigendian=0,
        data=array.array("B", data),
    )
    np.testing.assert_array_equal(
        decode_image_msg(msg), decode_image("yuv422", msg.width, msg.height, step, 0, data)
    )
    fmt, jpeg = encode_compressed(PHOTO)
    assert decode_compressed_msg(SimpleNamespace(format=fmt, data=jpeg)).shape == PHOTO.shape
    with pytest.raises(ImageDecodeError, match="step"):
        decode_image_msg(
            SimpleNamespace(encoding="rgb8", width=1, height=1, data=b"abc", is_bigendian=0)
        )


@pytest.mark.parametrize(
    "fmt", ["jpeg", "png", "rgb8; jpeg compressed bgr8", "bgr8; png compressed bgr8", "JPG"]
)
def test_compressed_formats(fmt: str) -> None:
    codec = "png" if "png" in fmt else "jpeg"
    _, data = encode_compressed(PHOTO, codec, quality=95)
    decoded = decode_compressed(fmt, data)
    reference = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    np.testing.assert_array_equal(decoded, reference)
    assert np.abs(decoded.astype(np.float32) - PHOTO).mean() < (2.0 if codec == "jpeg" else 1e-9)


def test_compressed_grey_png_gives_rgb() -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(PHOTO, cv2.COLOR_RGB2GRAY))
    assert ok
    np.testing.assert_array_equal(decode_compressed("png", data.tobytes()), _gray_rgb(PHOTO))


def _png_header(width: int, height: int) -> bytes:
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + ihdr + bytes(4)


_, JPEG = encode_compressed(PHOTO[:64, :64])
_, PNG = encode_compressed(PHOTO[:64, :64], "png")
HUGE = 100_000  # pixels per side, 10^10 in all: beyond MAX_PIXELS

# (encoding, width, height, step, data) -> the field the error must name
RAW_ERRORS = [
    (("rgb16", 2, 2, 6, bytes(12)), "encoding"),  # encoding we do not decode
    ((None, 2, 2, 6, bytes(12)), "encoding"),  # encoding not a string
    (("rgb8", 0, 2, 6, bytes(12)), "width"),  # zero width
    (("rgb8", 2, 0, 6, bytes(12)), "height"),  # zero height
    (("rgb8", -2, 2, 6, bytes(12)), "width"),  # negative width
    (("rgb8", 2.5, 2, 6, bytes(12)), "width"),  # width not an integer
    (("rgb8", 2, 2, 5, bytes(12)), "step"),  # step below width × 3
    (("rgb8", 2, 2, 0, bytes(12)), "step"),  # zero step
    (("mono16", 4, 1, 7, bytes(8)), "step"),  # step below width × 2
    (("rgb8", 2, 2, 6, bytes(11)), "data"),  # data shorter than step × height
    (("rgb8", 2, 2, 8, bytes(12)), "data"),  # padded step needs more data
    (("rgb8", 2, 2, 6, b""), "data"),  # no data
    (("rgb8", 2, 2, 6, np.zeros(12, np.float32)), "data"),  # data not bytes
    (("rgb8", 2, 2, 6, "abcdefghijkl"), "data"),  # data a str
    (("rgb8", 1, 1, 3, "123"), "got str"),  # digits are not bytes either
    (("rgb8", 1, 1, 3, [0, 300, 1]), "data"),  # list value beyond a byte
    (("yuv422", 3, 2, 6, bytes(12)), "width"),  # 4:2:2 needs an even width
    (("rgb8", HUGE, HUGE, 3 * HUGE, b""), "width"),  # beyond the pixel limit
]


@pytest.mark.parametrize(("fields", "field"), RAW_ERRORS)
def test_raw_errors_name_the_field(fields: tuple, field: str) -> None:
    encoding, width, height, step, data = fields
    with pytest.raises(ImageDecodeError, match=field):
        decode_image(encoding, width, height, step, False, data)


# (format, data) -> the field the error must name
COMPRESSED_ERRORS = [
    (("bmp", JPEG), "format"),  # not JPEG or PNG
    (("16UC1; compressedDepth png", PNG), "format"),  # depth images are not colour images
    ((None, JPEG), "format"),  # format not a string
    (("jpeg", b""), "data"),  # no data
    (("jpeg", b"not an image at all"), "data"),  # no JPEG/PNG signature
    (("jpeg", JPEG[:3]), "data"),  # signature only, no size
    (("jpeg", JPEG[:200]), "data"),  # cut before the frame header ends
    (("png", PNG[:30]), "data"),  # header only, no pixels
    (("png", _png_header(HUGE, HUGE)), "width"),  # header beyond the pixel limit
    (("png", _png_header(0, 10)), "data"),  # header with an empty size
    (("jpeg", JPEG[:2] + b"\xff\xc0" + bytes(20)), "data"),  # frame header of size 0 × 0
]


@pytest.mark.parametrize(("fields", "field"), COMPRESSED_ERRORS)
def test_compressed_errors_name_the_field(fields: tuple, field: str) -> None:
    with pytest.raises(ImageDecodeError, match=field):
        decode_compressed(*fields)


def test_pixel_limit_is_documented_value() -> None:
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(ImageDecodeError, match="limit"):
        decode_image("mono8", side, side, side, False, b"")


@st.composite
def raw_fields(draw: st.DrawFn) -> tuple:
    """Raw-image fields near and around valid ones."""
    encoding = draw(st.sampled_from([*CODECS, "rgb16", "", "BGR8"]))
    width = draw(st.integers(-2, 24) | st.sampled_from([HUGE, 2**40]))
    height = draw(st.integers(-2, 24) | st.sampled_from([HUGE, 2**40]))
    step = draw(st.integers(-2, 110) | st.just(max(width, 1) * 4))
    length = max(0, min(step * height, 5000) + draw(st.integers(-4, 4)))
    data = draw(st.binary(min_size=length, max_size=length))
    return encoding, width, height, step, draw(st.booleans() | st.integers(0, 3)), data


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw_fields())
def test_fuzz_raw(fields: tuple) -> None:
    encoding, width, height, step, big, data = fields
    try:
        decoded = decode_image(encoding, width, height, step, big, data)
    except ImageDecodeError:
        return
    assert decoded.shape == (height, width, 3) and decoded.dtype == np.uint8


@st.composite
def compressed_fields(draw: st.DrawFn) -> tuple:
    """JPEG/PNG bytes cut short, with bytes changed, or random."""
    data = bytearray(draw(st.sampled_from([JPEG, PNG])))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.integers(0, 9)) == 0:
        data = bytearray(draw(st.binary(max_size=64)))
    fmt = draw(st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "tiff"]))
    return fmt, bytes(data)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compressed_fields())
def test_fuzz_compressed(fields: tuple) -> None:
    try:
        decoded = decode_compressed(*fields)
    except ImageDecodeError:
        return
    assert decoded.ndim == 3 and decoded.shape[2] == 3 and decoded.dtype == np.uint8


def _bomb_jpeg(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 8 × 8 JPEG whose real frame header says ``width`` × ``height``, hidden in what a
    length-skipping walker takes for an ``FF 00`` segment; after it, a decoy 8 × 8 header."""
    ok, jpeg = cv2.imencode(".jpg", np.full((8, 8), 128, np.uint8))
    body = bytearray(jpeg.tobytes()[2:])  # without SOI
    sof = body.index(b"\xff\xc0")
    body[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    decoy = b"\xff\xc0\x00\x11\x08\x00\x08\x00\x08\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + b"\xff\x00" + (len(body) + 2).to_bytes(2, "big") + bytes(body) + decoy


def test_jpeg_frame_hidden_behind_stuffed_bytes_is_refused() -> None:
    """libjpeg passes over FF 00 byte by byte and finds the 20000 × 20000 frame header."""
    bomb = _bomb_jpeg()
    assert len(bomb) < 400  # a 20000 × 20000 image in a few hundred bytes
    with pytest.raises(ImageDecodeError, match="exceeds the limit"):
        decode_compressed("jpeg", bomb)


def test_jpeg_walk_accepts_fill_restart_and_padding_markers() -> None:
    ok, jpeg = cv2.imencode(".jpg", PHOTO[:16, :24])
    data = jpeg.tobytes()
    # fill bytes before a marker, a restart marker and garbage bytes between segments
    padded = data[:2] + b"\xff\xff\xff\xd0" + b"\x00\x12" + data[2:]
    assert decode_compressed("jpeg", padded).shape == (16, 24, 3)


@pytest.mark.parametrize(
    "tail",
    [
        b"\xff\xd9",
        b"\xff\xd8",
        b"\xff\xf0\x00\x04\x00\x00",
        b"\xff\xe0\x00\x01",
        b"\xff\xfe\x7f\xff",
    ],
)
def test_jpeg_walk_refuses_what_libjpeg_refuses(tail: bytes) -> None:
    """EOI or a second SOI before the frame, unknown markers, lengths under 2 or too long."""
    ok, jpeg = cv2.imencode(".jpg", PHOTO[:16, :24])
    data = jpeg.tobytes()
    with pytest.raises(ImageDecodeError, match="data"):
        decode_compressed("jpeg", data[:2] + tail + data[2:])


def _python(code: str, path: Path) -> subprocess.CompletedProcess:
    """``code`` run by a fresh interpreter with ``path`` as its argument (must exit 0)."""
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_opencv_enforces_the_pixel_limit_itself(tmp_path) -> None:
    """The second wall: in a process that imports the package first (the node, the CLI),
    OpenCV refuses the bomb even without the header walk."""
    (tmp_path / "bomb.jpg").write_bytes(_bomb_jpeg())
    code = (
        "import affect_perception, os, sys, cv2, numpy as np\n"
        "print(os.environ['OPENCV_IO_MAX_IMAGE_PIXELS'])\n"
        "data = np.fromfile(sys.argv[1], np.uint8)\n"
        "try:\n"
        "    print(cv2.imdecode(data, cv2.IMREAD_COLOR).shape)\n"
        "except cv2.error as err:\n"
        "    print('CV_IO_MAX_IMAGE_PIXELS' in str(err))\n"
    )
    out = _python(code, tmp_path / "bomb.jpg").stdout.split()
    assert out == [str(MAX_PIXELS), "True"]


def test_native_decoder_messages_are_counted_not_printed(tmp_path) -> None:
    """Issue 22, defect 6: 300 truncated PNGs printed 300 native lines to stderr."""
    _, png = encode_compressed(PHOTO[:40, :40], "png")
    damaged = bytearray(png)  # chunk lengths intact, image data and its CRC broken
    damaged[len(png) // 2 : len(png) // 2 + 8] = b"\x00\xff" * 4
    (tmp_path / "cut.png").write_bytes(bytes(damaged))
    code = (
        "import sys\n"
        "from affect_perception.runtime.image_decode import decode_compressed\n"
        "from affect_perception.runtime.native_output import DECODERS\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "for _ in range(300):\n"
        "    try:\n"
        "        decode_compressed('png', data)\n"
        "    except ValueError:\n"
        "        pass\n"
        "print(DECODERS.count)\n"
    )
    done = _python(code, tmp_path / "cut.png")
    assert int(done.stdout) >= 300 and done.stderr == ""


def test_png_chunk_longer_than_the_data_is_refused() -> None:
    """Found by the decoder fuzz (bench --fuzz): a forged chunk length made OpenCV allocate
    4 GB for a 1 kB message."""
    _, png = encode_compressed(PHOTO[:40, :40], "png")
    forged = png[:33] + (2**32 - 1).to_bytes(4, "big") + png[37:]
    with pytest.raises(ImageDecodeError, match="more than the data holds"):
        decode_compressed("png", forged)
