"""Printable QR posters: scanning opens WhatsApp with JOIN <CODE> typed in."""
from __future__ import annotations

import io
from urllib.parse import quote

import qrcode
from PIL import Image, ImageDraw, ImageFont

from bot.phones import wa_me_digits

_CAPTION_HEIGHT = 60


def join_link(whatsapp_number: str, vendor_code: str) -> str:
    return f"https://wa.me/{wa_me_digits(whatsapp_number)}?text={quote(f'JOIN {vendor_code}')}"


def poster_png(whatsapp_number: str, vendor_code: str, vendor_name: str) -> bytes:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(join_link(whatsapp_number, vendor_code))
    symbol = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    poster = Image.new("RGB", (symbol.width, symbol.height + _CAPTION_HEIGHT), "white")
    poster.paste(symbol, (0, 0))
    _caption(poster, symbol.height, vendor_name, f"Send JOIN {vendor_code} on WhatsApp")
    out = io.BytesIO()
    poster.save(out, format="PNG")
    return out.getvalue()


def _caption(poster: Image.Image, top: int, title: str, subtitle: str) -> None:
    draw = ImageDraw.Draw(poster)
    for text, size, y in ((title, 24, top), (subtitle, 16, top + 32)):
        font = ImageFont.load_default(size=size)
        width = draw.textlength(text, font=font)
        draw.text(((poster.width - width) / 2, y), text, fill="black", font=font)
