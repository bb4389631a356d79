"""QR posters: scanning opens WhatsApp with JOIN <CODE> typed in. A small picture for chats and
the web, and print posters (A5, A4) for the counter."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import phonenumbers
import qrcode
from PIL import Image, ImageDraw, ImageFont

from bot.catalog import render
from bot.locales import NBSP, language_of
from bot.messages import say
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


# Print posters for the counter, drawn at 300 dpi. The QR takes what room the words leave, up to
# 60% of the page's width (about 9 cm on A5, 12.5 cm on A4): a phone reads a code from about ten
# times its width, so from across a counter.
DPI = 300
PAPER_MM = {"a5": (148, 210), "a4": (210, 297)}
FORMATS = ("pdf", "png")
_INK, _ACCENT, _PAPER, _SOFT = (20, 20, 20), (7, 94, 84), (255, 255, 255), (90, 90, 90)
_QUIET_MODULES = 4  # the blank margin a QR needs around it, in modules
# DejaVu (Debian's fonts-dejavu-core, which `make setup` installs) writes every language's letters;
# without it, Pillow's own font, which has no accents.
_FONTS = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class PosterText:
    headline: str
    offer: str
    steps: tuple[str, str, str]
    footer: str


def poster_text(tenant) -> PosterText:
    """The poster's words from the catalog, in the vendor's language."""
    language = language_of(tenant)
    bonus = int(tenant.settings.get("welcome_bonus") or 0)
    code, number = tenant.vendor_code, _readable_number(tenant.whatsapp_number)

    def text(key: str, **params) -> str:
        return render(say(key, **params), language)

    return PosterText(
        headline=text("poster.headline", vendor=tenant.name),
        offer=text("poster.bonus", points=bonus) if bonus else text("poster.no_bonus"),
        steps=(text("poster.step1"), text("poster.step2", code=code), text("poster.step3")),
        footer=text("poster.or_send", code=code, number=number),
    )


def print_poster(tenant, paper: str, fmt: str) -> bytes:
    """The vendor's poster on A5 or A4 paper, as a PDF or a 300 dpi PNG."""
    if paper not in PAPER_MM or fmt not in FORMATS:
        raise ValueError(f"no {paper} {fmt} poster")
    image = _draw_poster(join_link(tenant.whatsapp_number, tenant.vendor_code), poster_text(tenant), paper)
    out = io.BytesIO()
    if fmt == "pdf":  # one page of the paper's size: the picture at 300 dpi, JPEG at a quality that keeps edges sharp
        image.save(out, format="PDF", resolution=DPI, quality=95, subsampling=0)
    else:
        image.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


class _Page:
    """Draws from the top down; every measure is in thousandths of the page's width."""

    def __init__(self, paper: str):
        width, height = (round(mm / 25.4 * DPI) for mm in PAPER_MM[paper])
        self.image = Image.new("RGB", (width, height), _PAPER)
        self.draw = ImageDraw.Draw(self.image)
        self.unit = width / 1000
        self.margin = self.px(60)
        self.y = 0

    def px(self, units: float) -> int:
        return round(units * self.unit)

    def font(self, units: float, bold: bool = False) -> ImageFont.FreeTypeFont:
        path = _FONTS / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
        return ImageFont.truetype(str(path), self.px(units)) if path.exists() else ImageFont.load_default(size=self.px(units))

    def lines(self, text: str, font, width: int | None = None) -> list[str]:
        """`text` wrapped at its spaces (never at a no-break space) to `width` (the page less its margins)."""
        width = width or self.image.width - 2 * self.margin
        lines: list[str] = []
        for word in filter(None, text.split(" ")):
            if lines and self.draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines

    def centred(self, lines: list[str], font, leading: int, fill) -> None:
        for line in lines:
            self.draw.text((self.image.width / 2, self.y), line, font=font, fill=fill, anchor="ma")
            self.y += leading


def _draw_poster(link: str, text: PosterText, paper: str) -> Image.Image:
    page = _Page(paper)
    width, height, margin = page.image.width, page.image.height, page.margin

    # The headline, on a coloured band, smaller for a long name.
    for size in (62, 50, 40, 32):
        headline_font = page.font(size, bold=True)
        headline = page.lines(text.headline, headline_font)
        if len(headline) <= 4:
            break
    headline_leading = round(headline_font.size * 1.3)
    page.draw.rectangle((0, 0, width, 2 * margin + headline_leading * len(headline)), fill=_ACCENT)
    page.y = margin
    page.centred(headline, headline_font, headline_leading, _PAPER)

    # The welcome offer.
    page.y += margin
    offer_font = page.font(44, bold=True)
    page.centred(page.lines(text.offer, offer_font), offer_font, page.px(58), _ACCENT)

    # Measure what goes under the QR, to give the QR what is left.
    step_font, number_font, leading, radius = page.font(29), page.font(29, bold=True), page.px(38), page.px(24)
    text_left = margin + 2 * radius + page.px(22)
    steps = [page.lines(step, step_font, width - margin - text_left) for step in text.steps]
    step_heights = [max(2 * radius, len(lines) * leading) + page.px(18) for lines in steps]
    footer_font = page.font(24)
    footer = page.lines(text.footer, footer_font)
    below = sum(step_heights) + len(footer) * page.px(34) + margin
    symbol = _qr_symbol(link)
    room = height - page.y - below  # the QR and its blank margin above and below
    module = max(2, min(room // (symbol.height + 2 * _QUIET_MODULES), page.px(600) // symbol.width))
    qr = symbol.resize((symbol.width * module, symbol.height * module), Image.NEAREST)
    page.y += _QUIET_MODULES * module
    page.image.paste(qr, ((width - qr.width) // 2, page.y))
    page.y += qr.height + _QUIET_MODULES * module

    # Three steps.
    for number, (lines, step_height) in enumerate(zip(steps, step_heights), start=1):
        centre = (margin + radius, page.y + radius)
        page.draw.ellipse((centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius), fill=_ACCENT)
        page.draw.text(centre, str(number), font=number_font, fill=_PAPER, anchor="mm")
        for i, line in enumerate(lines):
            page.draw.text((text_left, page.y + page.px(8) + i * leading), line, font=step_font, fill=_INK)
        page.y += step_height

    # How to join without a camera, at the foot.
    page.y = height - margin - len(footer) * page.px(34)
    page.centred(footer, footer_font, page.px(34), _SOFT)
    return page.image


def _qr_symbol(data: str) -> Image.Image:
    """The code at one pixel per module, without its blank margin (the page keeps it clear)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=0)
    code.add_data(data)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def _readable_number(e164: str) -> str:
    """'+14155238886' -> '+1 415-523-8886', as the world writes it, on one line."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL).replace(" ", NBSP)
