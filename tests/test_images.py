"""bot/images.py: the MIME type sent to the model names the bytes really sent.

A transparent image that has to be re-encoded (downscaled, or in a format the model does not
take) must stay in a format with an alpha channel, and its data URL must say that format.
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.images import PreparedImage, prepare_image


def _transparent(fmt: str, size: tuple[int, int]) -> bytes:
    """An RGBA image: the left half opaque red, the right half fully transparent."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    for x in range(size[0] // 2):
        for y in range(size[1]):
            image.putpixel((x, y), (255, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def _real_mime(data: bytes) -> str | None:
    with Image.open(io.BytesIO(data)) as image:
        return image.get_format_mimetype()


def _check_mime_matches_bytes(prepared: PreparedImage) -> None:
    assert prepared.mime == _real_mime(prepared.data)
    head, _, payload = prepared.data_url().partition(",")
    assert head == f"data:{prepared.mime};base64"
    assert _real_mime(base64.b64decode(payload)) == prepared.mime


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_transparent_image_that_is_re_encoded_keeps_alpha_and_names_its_format(
    fmt: str,
) -> None:
    """PNG: too large, downscaled. TIFF: not a format the model takes, re-encoded as it is."""
    size = (1200, 600) if fmt == "PNG" else (200, 120)
    prepared = prepare_image(_transparent(fmt, size), max_side=256)
    assert prepared.resized is (fmt == "PNG")
    assert max(prepared.width, prepared.height) <= 256
    _check_mime_matches_bytes(prepared)
    assert prepared.mime in ("image/png", "image/webp")  # formats with an alpha channel
    with Image.open(io.BytesIO(prepared.data)) as image:
        rgba = image.convert("RGBA")
        assert rgba.getpixel((rgba.width - 1, 0)) == (0, 0, 0, 0)  # still transparent
        assert rgba.getpixel((0, 0)) == (255, 0, 0, 255)


def test_an_opaque_image_that_is_re_encoded_is_a_jpeg_and_says_so() -> None:
    out = io.BytesIO()
    Image.new("RGB", (1200, 600), (10, 200, 30)).save(out, format="PNG")
    prepared = prepare_image(out.getvalue(), max_side=256)
    assert prepared.resized
    _check_mime_matches_bytes(prepared)
    assert prepared.mime == "image/jpeg"
