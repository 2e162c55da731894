"""`sensor_msgs/Image` and `CompressedImage` fields to RGB uint8 arrays, and back.

Plain numpy and OpenCV, no ROS: :func:`decode_image` and :func:`decode_compressed` take the
message fields, :func:`decode_image_msg` and :func:`decode_compressed_msg` take any object with
the message's attributes (rclpy messages and rosbags-deserialised messages alike). Every
malformed input raises :class:`ImageDecodeError` naming the field that is wrong.

Compressed headers are checked against the pixel limit first (:mod:`.pixel_limit`, libjpeg's
marker walk). Raw images are read through a zero-copy view of ``data`` that honours ``step``
(row padding); ``rgb8`` is returned as that view (read-only when ``data`` is), every other
encoding costs one conversion copy.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from affect_perception.runtime.native_output import DECODERS
from affect_perception.runtime.pixel_limit import (  # noqa: F401 - MAX_PIXELS re-exported
    MAX_PIXELS,
    PixelLimitError,
    check_pixels,
    compressed_size,
)

# JPEG quality used by encode_compressed unless told otherwise.
JPEG_QUALITY = 90

# RGB -> limited-range BT.601 YCbCr rows (Y, U, V) and offsets: the inverse of the matrix
# OpenCV's COLOR_YUV2RGB_UYVY / _YUY2 decoders use (Y in 16..235, chroma centred at 128).
_RGB_TO_YUV = np.array(
    [[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]], dtype=np.float32
)
_YUV_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float32)


class ImageDecodeError(ValueError):
    """An image message that cannot be decoded; the message names the field at fault."""


# --- raw encodings ---------------------------------------------------------------------------

Decoder = Callable[[np.ndarray, bool], np.ndarray]  # (H, W, bytes per pixel) view -> RGB
Encoder = Callable[[np.ndarray, bool], np.ndarray]  # RGB -> (H, W, bytes per pixel) uint8


@dataclass(frozen=True)
class _Codec:
    """How one ``sensor_msgs/Image`` encoding maps to and from RGB."""

    bytes_per_pixel: int
    decode: Decoder
    encode: Encoder
    even_width: bool = False  # 4:2:2 chroma covers pixel pairs


def _convert(code: int) -> Callable[[np.ndarray, bool], np.ndarray]:
    """A codec half that is one ``cv2.cvtColor`` call."""
    return lambda image, _big: cv2.cvtColor(image, code)


def _mono16_decode(pixels: np.ndarray, big: bool) -> np.ndarray:
    # value >> 8 is the most significant byte: a view, no arithmetic
    return cv2.cvtColor(pixels[..., 0 if big else 1], cv2.COLOR_GRAY2RGB)


def _mono16_encode(rgb: np.ndarray, big: bool) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257  # 255 -> 65535
    return gray.astype(">u2" if big else "<u2").view(np.uint8).reshape(*gray.shape, 2)


def _yuv422_encode(luma_first: bool) -> Encoder:
    """RGB -> packed 4:2:2 (``luma_first``: YUYV, else UYVY), chroma averaged over pairs."""

    def encode(rgb: np.ndarray, _big: bool) -> np.ndarray:
        yuv = rgb.astype(np.float32) @ _RGB_TO_YUV.T + _YUV_OFFSET
        chroma = (yuv[:, 0::2, 1:] + yuv[:, 1::2, 1:]) / 2  # (H, W/2, [U, V])
        packed = np.empty((*rgb.shape[:2], 2), dtype=np.float32)
        luma, other = (0, 1) if luma_first else (1, 0)
        packed[..., luma] = yuv[..., 0]
        packed[:, 0::2, other] = chroma[..., 0]
        packed[:, 1::2, other] = chroma[..., 1]
        return np.clip(np.rint(packed), 0, 255).astype(np.uint8)

    return encode


def _bayer_encode(pattern: str) -> Encoder:
    """RGB -> Bayer mosaic; ``pattern`` names the 2×2 tile row by row, e.g. ``"rggb"``."""

    def encode(rgb: np.ndarray, _big: bool) -> np.ndarray:
        mosaic = np.empty((*rgb.shape[:2], 1), dtype=np.uint8)
        for i, colour in enumerate(pattern):
            dy, dx = divmod(i, 2)
            mosaic[dy::2, dx::2, 0] = rgb[dy::2, dx::2, "rgb".index(colour)]
        return mosaic

    return encode


def _bayer(pattern: str, code: int) -> _Codec:
    return _Codec(1, _convert(code), _bayer_encode(pattern))


_BGR = _Codec(3, _convert(cv2.COLOR_BGR2RGB), _convert(cv2.COLOR_RGB2BGR))
_MONO8 = _Codec(1, _convert(cv2.COLOR_GRAY2RGB), _convert(cv2.COLOR_RGB2GRAY))

# OpenCV names Bayer patterns after the second row's first two pixels, so ROS bayer_rggb8 is
# COLOR_BayerBG (the mapping cv_bridge uses).
CODECS: dict[str, _Codec] = {
    "rgb8": _Codec(3, lambda image, _big: image, lambda rgb, _big: rgb),
    "bgr8": _BGR,
    "8UC3": _BGR,  # cv_bridge reads 8UC3 as bgr8
    "rgba8": _Codec(4, _convert(cv2.COLOR_RGBA2RGB), _convert(cv2.COLOR_RGB2RGBA)),
    "bgra8": _Codec(4, _convert(cv2.COLOR_BGRA2RGB), _convert(cv2.COLOR_RGB2BGRA)),
    "mono8": _MONO8,
    "8UC1": _MONO8,
    "mono16": _Codec(2, _mono16_decode, _mono16_encode),
    "yuv422": _Codec(2, _convert(cv2.COLOR_YUV2RGB_UYVY), _yuv422_encode(False), True),
    "yuv422_yuy2": _Codec(2, _convert(cv2.COLOR_YUV2RGB_YUY2), _yuv422_encode(True), True),
    "bayer_rggb8": _bayer("rggb", cv2.COLOR_BayerBG2RGB),
    "bayer_bggr8": _bayer("bggr", cv2.COLOR_BayerRG2RGB),
    "bayer_gbrg8": _bayer("gbrg", cv2.COLOR_BayerGR2RGB),
    "bayer_grbg8": _bayer("grbg", cv2.COLOR_BayerGB2RGB),
}


def _codec(encoding: Any) -> _Codec:
    codec = CODECS.get(encoding) if isinstance(encoding, str) else None
    if codec is None:
        raise ImageDecodeError(
            f"encoding {encoding!r} is not supported; use one of {', '.join(CODECS)}"
        )
    return codec


def _size(name: str, value: Any) -> int:
    """A positive integer field (width, height, step)."""
    try:
        number = operator.index(value)
    except TypeError:
        raise ImageDecodeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if number <= 0:
        raise ImageDecodeError(f"{name} must be positive, got {number}")
    return number


def _check_pixels(width: int, height: int) -> None:
    try:
        check_pixels(width, height)
    except PixelLimitError as err:
        raise ImageDecodeError(str(err)) from None


def _as_bytes(data: Any) -> np.ndarray:
    """``data`` (bytes-like, uint8 array or sequence of ints) as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageDecodeError(f"data must hold uint8 bytes, got dtype {data.dtype}")
        return data.reshape(-1)
    if isinstance(data, str):  # numpy would read "12" as the byte 12
        raise ImageDecodeError("data must be bytes or a sequence of 0..255, got str")
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        pass  # not a contiguous buffer: maybe a list of ints
    try:
        return np.asarray(data, dtype=np.uint8).reshape(-1)
    except (TypeError, ValueError, OverflowError):
        raise ImageDecodeError(
            f"data must be bytes or a sequence of 0..255, got {type(data).__name__}"
        ) from None


def _cv_call(what: str, function: Callable[..., Any], *args: Any) -> Any:
    """Call OpenCV, reporting its failures as ImageDecodeError."""
    try:
        return function(*args)
    except cv2.error as err:
        raise ImageDecodeError(f"{what}: OpenCV failed: {str(err).strip()}") from None


def decode_image(
    encoding: str, width: int, height: int, step: int, is_bigendian: bool | int, data: Any
) -> np.ndarray:
    """Decode the fields of a ``sensor_msgs/Image`` into an RGB image.

    Args:
        encoding: one of :data:`CODECS` (``rgb8``, ``bgr8``, ``mono16``, ``yuv422``, ...).
        width: pixels per row.
        height: rows.
        step: bytes per row, at least ``width`` × bytes per pixel (more is row padding).
        is_bigendian: byte order of 16-bit encodings.
        data: at least ``step`` × ``height`` bytes (bytes, bytearray, memoryview,
            ``array.array``, a uint8 ndarray or a sequence of ints).

    Returns:
        (height, width, 3) uint8 RGB; for ``rgb8`` a view of ``data``.

    Raises:
        ImageDecodeError: naming the field that is wrong.
    """
    codec, pixels = _raw_pixels(encoding, width, height, step, data)
    return _cv_call(encoding, codec.decode, pixels, bool(is_bigendian))


def _raw_pixels(
    encoding: str, width: int, height: int, step: int, data: Any
) -> tuple[_Codec, np.ndarray]:
    """The codec and the (H, W, bytes per pixel) view of ``data``, every field checked (no
    pixel read, no copy for bytes-like data)."""
    codec = _codec(encoding)
    width, height, step = _size("width", width), _size("height", height), _size("step", step)
    _check_pixels(width, height)
    if codec.even_width and width % 2:
        raise ImageDecodeError(f"width must be even for {encoding}, got {width}")
    row_bytes = width * codec.bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(
            f"step {step} is less than width × bytes per pixel = {row_bytes} for {encoding}"
        )
    buffer = _as_bytes(data)
    if buffer.size < step * height:
        raise ImageDecodeError(
            f"data holds {buffer.size} bytes, less than step × height = {step * height}"
        )
    pixels = buffer[: step * height].reshape(height, step)[:, :row_bytes]
    return codec, pixels.reshape(height, width, codec.bytes_per_pixel)


def encode_image(
    rgb: np.ndarray,
    encoding: str,
    *,
    is_bigendian: bool = False,
) -> tuple[int, bytes]:
    """Encode an RGB image as ``sensor_msgs/Image`` ``(step, data)`` without row padding.

    Lossless for ``rgb8``/``bgr8``/``rgba8``/``bgra8``/``8UC3``; grey for ``mono*``/``8UC1``
    (``mono16`` holds grey × 257); chroma halved horizontally for ``yuv422*``; one colour per
    pixel for ``bayer_*``.

    Raises:
        ValueError: ``rgb`` is not (H, W, 3) uint8, the encoding is unknown, or a 4:2:2
            encoding gets an odd width.
    """
    rgb = _check_rgb(rgb)
    if encoding not in CODECS:
        raise ValueError(f"encoding {encoding!r} is not supported; use one of {', '.join(CODECS)}")
    codec = CODECS[encoding]
    if codec.even_width and rgb.shape[1] % 2:
        raise ValueError(f"{encoding} needs an even width, got {rgb.shape[1]}; crop a column")
    packed = np.ascontiguousarray(codec.encode(rgb, is_bigendian))
    return rgb.shape[1] * codec.bytes_per_pixel, packed.tobytes()


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or not rgb.size:
        raise ValueError(
            f"expected a non-empty (H, W, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}"
        )
    return rgb


# --- compressed ------------------------------------------------------------------------------


def _compressed_codec(fmt: Any) -> str:
    """``"jpeg"`` or ``"png"`` from a CompressedImage ``format`` ("rgb8; jpeg compressed bgr8")."""
    if not isinstance(fmt, str):
        raise ImageDecodeError(f"format must be a string, got {type(fmt).__name__}")
    words = re.findall(r"[a-z0-9]+", fmt.lower())
    if "compresseddepth" not in words:
        for codec, names in (("jpeg", {"jpeg", "jpg"}), ("png", {"png"})):
            if names & set(words):
                return codec
    raise ImageDecodeError(
        f"format {fmt!r} is not a JPEG or PNG colour image (e.g. 'rgb8; jpeg compressed bgr8')"
    )


def _checked_compressed(data: Any) -> np.ndarray:
    """``data`` as bytes, its header's size checked against the pixel limit."""
    buffer = _as_bytes(data)
    try:
        compressed_size(memoryview(buffer))
    except PixelLimitError as err:
        raise ImageDecodeError(str(err)) from None
    return buffer


def decode_compressed(format: str, data: Any) -> np.ndarray:  # noqa: A002 - the message field
    """Decode the fields of a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into RGB.

    Args:
        format: the message's format string: ``"jpeg"``, ``"png"`` or image_transport's
            ``"<encoding>; jpeg compressed <encoding>"`` form.
        data: the compressed bytes (any type :func:`decode_image` accepts).

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ImageDecodeError: naming the field that is wrong.
    """
    codec = _compressed_codec(format)
    buffer = _checked_compressed(data)
    flag = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10 decodes straight to RGB
    with DECODERS.captured():  # libpng/libjpeg complaints counted, not printed
        image = _cv_call("data", cv2.imdecode, buffer, cv2.IMREAD_COLOR if flag is None else flag)
    if image is None or image.ndim != 3 or not image.size:
        raise ImageDecodeError(f"data could not be decoded as {codec}")
    if flag is None:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def image_fields(rgb: np.ndarray, encoding: str) -> dict[str, Any]:
    """The fields of a ``sensor_msgs/Image`` (all but the header) holding ``rgb`` encoded as
    ``encoding`` (see :func:`encode_image`); ``data`` is bytes."""
    step, data = encode_image(rgb, encoding)
    return {
        "height": rgb.shape[0],
        "width": rgb.shape[1],
        "encoding": encoding,
        "is_bigendian": 0,
        "step": step,
        "data": data,
    }


def encode_compressed(
    rgb: np.ndarray,
    fmt: str = "jpeg",
    quality: int = JPEG_QUALITY,
) -> tuple[str, bytes]:
    """Compress an RGB image for a ``sensor_msgs/CompressedImage``.

    Args:
        rgb: (H, W, 3) uint8.
        fmt: ``"jpeg"`` or ``"png"``.
        quality: JPEG quality 0..100 (PNG is lossless and ignores it).

    Returns:
        ``(format, data)``: image_transport's format string and the compressed bytes.
    """
    rgb = _check_rgb(rgb)
    params = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, int(quality)], "png": []}
    if fmt not in params:
        raise ValueError(f"fmt must be 'jpeg' or 'png', got {fmt!r}")
    ok, data = cv2.imencode("." + fmt, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params[fmt])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {fmt}")
    return f"rgb8; {fmt} compressed bgr8", data.tobytes()


# --- messages --------------------------------------------------------------------------------


def _fields(msg: Any, names: tuple[str, ...], kind: str) -> list[Any]:
    try:
        return [getattr(msg, name) for name in names]
    except AttributeError as err:
        raise ImageDecodeError(f"{err.name or 'a field'}: missing; expected a {kind}") from None


def decode_image_msg(msg: Any) -> np.ndarray:
    """Decode any object with ``sensor_msgs/Image`` attributes (see :func:`decode_image`)."""
    names = ("encoding", "width", "height", "step", "is_bigendian", "data")
    return decode_image(*_fields(msg, names, "sensor_msgs/Image"))


def decode_compressed_msg(msg: Any) -> np.ndarray:
    """Decode any object with ``sensor_msgs/CompressedImage`` attributes."""
    return decode_compressed(*_fields(msg, ("format", "data"), "sensor_msgs/CompressedImage"))


def check_image_msg(msg: Any) -> None:
    """Every check of :func:`decode_image_msg` that reads no pixel (microseconds): for the
    subscription callback, so that a malformed message never takes a good frame's place.

    Raises:
        ImageDecodeError: what decoding would raise on the message's fields.
    """
    names = ("encoding", "width", "height", "step", "data")
    _raw_pixels(*_fields(msg, names, "sensor_msgs/Image"))


def check_compressed_msg(msg: Any) -> None:
    """The format and the header (signature, size, pixel limit) of a ``CompressedImage``,
    without decompressing (see :func:`check_image_msg`)."""
    fmt, data = _fields(msg, ("format", "data"), "sensor_msgs/CompressedImage")
    _compressed_codec(fmt)
    _checked_compressed(data)
