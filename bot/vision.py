"""Photos and image files: pick, check, download and prepare them for the vision model."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from telegram import Bot, Message
from telegram.error import TelegramError

from bot.images import ImageRejected, PreparedImage, prepare_image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImageSource:
    """One image a message carries: which Telegram file, and its declared size."""

    file_id: str
    file_size: int | None


@dataclass(slots=True)
class CollectedImages:
    images: list[PreparedImage] = field(default_factory=list)
    #: (i18n key, format values) of each image that could not be used, in order.
    problems: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    #: Seconds spent downloading and preparing (decode, resize, encode), for the logs.
    download_s: float = 0.0
    prepare_s: float = 0.0


def is_image_document(message: Message) -> bool:
    document = message.document
    return bool(document and (document.mime_type or "").startswith("image/"))


def image_source(message: Message, max_bytes: int) -> ImageSource | None:
    """The photo size or image file to use: the largest photo size within `max_bytes`."""
    if message.photo:
        sizes = sorted(message.photo, key=lambda p: p.width * p.height)
        fitting = [p for p in sizes if (p.file_size or 0) <= max_bytes]
        chosen = fitting[-1] if fitting else sizes[-1]
        return ImageSource(chosen.file_id, chosen.file_size)
    if is_image_document(message):
        assert message.document is not None
        return ImageSource(message.document.file_id, message.document.file_size)
    return None


async def collect_images(
    bot: Bot, messages: Sequence[Message], *, max_bytes: int, max_side: int
) -> CollectedImages:
    """Download and prepare every image of `messages`; problems are collected, not raised."""
    result = CollectedImages()
    for message in messages:
        source = image_source(message, max_bytes)
        if source is None:
            continue
        if source.file_size is not None and source.file_size > max_bytes:
            result.problems.append(_too_large(source.file_size, max_bytes))
            continue
        started = time.perf_counter()
        try:
            telegram_file = await bot.get_file(source.file_id)
            data = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("image download failed: %s", exc)
            result.problems.append(("image_download_failed", {}))
            continue
        downloaded = time.perf_counter()
        result.download_s += downloaded - started
        if len(data) > max_bytes:  # the declared size was missing or wrong
            result.problems.append(_too_large(len(data), max_bytes))
            continue
        try:
            prepared = await asyncio.to_thread(prepare_image, data, max_side=max_side)
        except ImageRejected as exc:
            log.info("image rejected (%s): %s", exc.reason, exc)
            result.problems.append((exc.reason, {}))
            continue
        finally:
            result.prepare_s += time.perf_counter() - downloaded
        result.images.append(prepared)
    return result


def _too_large(size: int, limit: int) -> tuple[str, dict[str, object]]:
    return "image_too_large", {
        "size": f"{size / 1_048_576:.1f}",
        "limit": f"{limit / 1_048_576:.0f}",
    }


class VisionPreparer:
    """Gets photos ready for the vision model, with the size limits of the settings."""

    def __init__(self, *, max_bytes: int, max_side: int) -> None:
        self._max_bytes = max_bytes
        self._max_side = max_side

    async def collect(self, bot: Bot, messages: Sequence[Message]) -> CollectedImages:
        """Every image of `messages` downloaded and prepared (see `collect_images`)."""
        return await collect_images(
            bot, messages, max_bytes=self._max_bytes, max_side=self._max_side
        )
