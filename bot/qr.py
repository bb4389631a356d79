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
    return _captioned_qr(join_link(whatsapp_number, vendor_code), vendor_name, f"Send JOIN {vendor_code} on WhatsApp")


def code_png(redemption_code: str, reward_name: str) -> bytes:
    """What the customer shows at the counter: the code as a QR, and readable under it."""
    return _captioned_qr(redemption_code, redemption_code, reward_name)


def _captioned_qr(data: str, title: str, subtitle: str) -> bytes:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(data)
    symbol = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    image = Image.new("RGB", (symbol.width, symbol.height + _CAPTION_HEIGHT), "white")
    image.paste(symbol, (0, 0))
    _caption(image, symbol.height, title, subtitle)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _caption(poster: Image.Image, top: int, title: str, subtitle: str) -> None:
    draw = ImageDraw.Draw(poster)
    for text, size, y in ((title, 24, top), (subtitle, 16, top + 32)):
        font = ImageFont.load_default(size=size)
        width = draw.textlength(text, font=font)
        draw.text(((poster.width - width) / 2, y), text, fill="black", font=font)
