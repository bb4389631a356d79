"""The lucky wheel's draw and its picture. Pure: no database.

The draw is weighted by the items' weights. An item that turns out to be unavailable (out of
stock, over its daily cap) is left out and the draw is made again among the rest, which is the
same as drawing once with the remaining weights renormalised."""
from __future__ import annotations

import io
import math
from functools import lru_cache
from random import Random
from typing import Callable, Sequence, TypeVar

from PIL import Image, ImageDraw, ImageFont

Item = TypeVar("Item")

_SIZE = 480
_COLOURS = ["#f94144", "#f3722c", "#f8961e", "#f9c74f", "#90be6d", "#43aa8b", "#577590", "#277da1"]


def pick(items: Sequence[Item], weight: Callable[[Item], float], rng: Random, available: Callable[[Item], bool]) -> Item | None:
    """A weighted draw among the items `available` accepts; None when it accepts none."""
    left = list(items)
    while left:
        chosen = rng.choices(left, weights=[weight(item) for item in left])[0]
        if available(chosen):
            return chosen
        left.remove(chosen)
    return None


def wheel_png(labels: tuple[str, ...], winner: int) -> bytes:
    """The wheel with its segments labelled and the winning one marked (cached per wheel)."""
    return _marked(labels, winner)


@lru_cache(maxsize=512)
def _marked(labels: tuple[str, ...], winner: int) -> bytes:
    image = _base(labels).copy()
    draw = ImageDraw.Draw(image)
    start, end = _angles(len(labels), winner)
    margin = 20
    box = (margin, margin, _SIZE - margin, _SIZE - margin)
    draw.pieslice(box, start, end, outline="black", width=8)
    middle = math.radians((start + end) / 2)
    tip = (_SIZE / 2 + math.cos(middle) * (_SIZE / 2 - 4), _SIZE / 2 + math.sin(middle) * (_SIZE / 2 - 4))
    draw.ellipse((tip[0] - 10, tip[1] - 10, tip[0] + 10, tip[1] + 10), fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@lru_cache(maxsize=64)
def _base(labels: tuple[str, ...]) -> Image.Image:
    image = Image.new("RGB", (_SIZE, _SIZE), "white")
    draw = ImageDraw.Draw(image)
    margin = 20
    font = ImageFont.load_default(size=15)
    for index, label in enumerate(labels):
        start, end = _angles(len(labels), index)
        draw.pieslice((margin, margin, _SIZE - margin, _SIZE - margin), start, end, fill=_COLOURS[index % len(_COLOURS)], outline="white", width=2)
        middle = math.radians((start + end) / 2)
        x = _SIZE / 2 + math.cos(middle) * _SIZE * 0.29
        y = _SIZE / 2 + math.sin(middle) * _SIZE * 0.29
        text = label if len(label) <= 18 else label[:17] + "…"
        draw.text((x, y), text, fill="black", font=font, anchor="mm")
    return image


def _angles(count: int, index: int) -> tuple[float, float]:
    step = 360 / count
    return -90 + index * step, -90 + (index + 1) * step
