"""Image bytes from Telegram made ready for a vision model: real type, sane size, right way up.

Pillow does the decoding (pillow-heif adds HEIC/HEIF, the format of many phone cameras). Work is
CPU-bound, so callers run `prepare_image` in a thread.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

try:  # optional at run time: without it HEIC files get a clear "not supported" message
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - depends on the platform's wheels
    HEIF_SUPPORTED = False

#: Formats the model takes as they are; others (HEIC, BMP, TIFF, animated GIF) are re-encoded.
_PASS_THROUGH = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
#: A phone photo is ~12-50 MP; refuse absurd sizes before decoding (decompression bombs).
MAX_PIXELS = 80_000_000


class ImageRejected(Exception):
    """The bytes cannot be sent to the model; `reason` names the i18n text to show."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PreparedImage:
    data: bytes
    mime: str
    width: int
    height: int
    resized: bool

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def sniff_unsupported(data: bytes) -> str | None:
    """A reason key for well-known formats we cannot take, from the first bytes."""
    head = data[:512].lstrip()
    if head.startswith(b"<?xml") or head[:4].lower() == b"<svg" or b"<svg" in head.lower():
        return "image_svg"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc") and not HEIF_SUPPORTED:
        return "image_heic"
    return None


def prepare_image(data: bytes, *, max_side: int) -> PreparedImage:
    """Check `data` is a complete image, downscale it past `max_side`, and name its MIME type.

    Unchanged images keep their exact bytes. Downscaled ones are turned upright first (EXIF
    orientation), then encoded as JPEG (PNG when they have transparency).
    """
    reason = sniff_unsupported(data)
    if reason:
        raise ImageRejected(reason)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise ImageRejected("image_too_big", f"{width}x{height}")
            probe.verify()  # structure and checksums, without decoding pixels
        image = Image.open(io.BytesIO(data))
        if fmt == "JPEG" and max(width, height) > 2 * max_side:
            # Let libjpeg decode at 1/2, 1/4... scale, still at least the target size: a 48 MP
            # phone photo prepares ~2.5x faster.
            scale = max_side / max(width, height)
            image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
        image.load()  # decodes every pixel: catches truncated files
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected("image_too_big", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("image_unreadable", f"{type(exc).__name__}: {exc}") from exc

    animated = bool(getattr(image, "is_animated", False))
    mime = _PASS_THROUGH.get(fmt)
    if mime and not animated and max(width, height) <= max_side:
        return PreparedImage(data, mime, width, height, resized=False)

    upright = ImageOps.exif_transpose(image)
    resized = max(upright.size) > max_side
    if resized:
        upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return _encode(upright, resized=resized)


def _encode(image: Image.Image, *, resized: bool) -> PreparedImage:
    """Re-encode for the model: PNG when transparency matters, JPEG otherwise."""
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    out = io.BytesIO()
    if has_alpha:
        image.save(out, format="PNG", optimize=True)
        mime = "image/png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
        mime = "image/jpeg"
    return PreparedImage(out.getvalue(), mime, image.width, image.height, resized=resized)
