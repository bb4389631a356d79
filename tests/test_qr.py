"""QR posters decode (with zbar) to the vendor's wa.me JOIN link; print posters are the paper's size."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from bot.locales import NBSP
from bot.qr import DPI, PAPER_MM, poster_text, print_poster
from models import Tenant

EXPECTED_LINK = "https://wa.me/14155238886?text=JOIN%20MAMA"


def decoded_links(png: bytes) -> list[str]:
    return [symbol.data.decode() for symbol in decode(Image.open(io.BytesIO(png)))]


def test_qr_route_serves_a_png_that_opens_whatsapp_with_join(app, mama):
    response = app.test_client().get("/qr/MAMA.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert decoded_links(response.data) == [EXPECTED_LINK]


def test_qr_route_accepts_any_case_and_404s_unknown_codes(app, mama):
    client = app.test_client()
    assert decoded_links(client.get("/qr/mama.png").data) == [EXPECTED_LINK]
    assert client.get("/qr/NOPE.png").status_code == 404


def test_qr_poster_has_room_for_the_vendor_name_under_the_code(app, mama):
    image = Image.open(io.BytesIO(app.test_client().get("/qr/MAMA.png").data))
    width, height = image.size
    assert height > width  # the caption band under the square code
    caption = image.crop((0, width, width, height)).convert("L")
    assert caption.getextrema()[0] < 128  # there is dark text in it


def test_qr_command_writes_the_poster(app, mama, tmp_path):
    out = tmp_path / "mama.png"
    result = app.test_cli_runner().invoke(args=["qr", "MAMA", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert decoded_links(out.read_bytes()) == [EXPECTED_LINK]


def test_qr_command_refuses_unknown_vendor(app, mama, tmp_path):
    result = app.test_cli_runner().invoke(args=["qr", "NOPE", "-o", str(tmp_path / "x.png")])
    assert result.exit_code != 0
    assert "No vendor with code NOPE" in result.output


# Print posters (A5 and A4, PDF and PNG at 300 dpi)

def pdf_page_mm(pdf: bytes) -> tuple[int, int]:
    """The page size a PDF declares, in millimetres."""
    width, height = map(float, re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf).groups())
    return round(width / 72 * 25.4), round(height / 72 * 25.4)


def pdf_picture(pdf: bytes) -> Image.Image:
    """The page's picture, as the PDF embeds it (a JPEG)."""
    return Image.open(io.BytesIO(pdf[pdf.index(b"\xff\xd8"):pdf.rindex(b"\xff\xd9") + 2]))


def qr_width_mm(image: Image.Image) -> float:
    [symbol] = decode(image)
    return symbol.rect.width / DPI * 25.4


@pytest.mark.parametrize("paper, size_px, smallest_qr_mm", [("a5", (1748, 2480), 80), ("a4", (2480, 3508), 115)])
def test_print_posters_are_the_papers_size_at_300_dpi_with_a_qr_to_scan_across_a_counter(app, mama, tmp_path, paper, size_px, smallest_qr_mm):
    png, pdf = tmp_path / f"mama-{paper}.png", tmp_path / f"mama-{paper}.pdf"
    for out in (png, pdf):
        result = app.test_cli_runner().invoke(args=["qr", "MAMA", "--poster", paper, "-o", str(out)])
        assert result.exit_code == 0, result.output
    image = Image.open(png)
    assert image.size == size_px and round(image.info["dpi"][0]) == DPI
    assert decoded_links(png.read_bytes()) == [EXPECTED_LINK]
    assert qr_width_mm(image) >= smallest_qr_mm
    assert pdf.read_bytes().startswith(b"%PDF")
    assert pdf_page_mm(pdf.read_bytes()) == PAPER_MM[paper]
    picture = pdf_picture(pdf.read_bytes())
    assert picture.size == size_px
    assert [symbol.data.decode() for symbol in decode(picture)] == [EXPECTED_LINK]


def test_a_print_poster_says_the_offer_and_the_steps_in_the_vendors_language(app, mama, db):
    with db.transaction() as session:
        tenant = session.get(Tenant, mama.id)
        english = poster_text(tenant)
        tenant.settings = {**tenant.settings, "language": "fr", "welcome_bonus": 0}
        french = poster_text(tenant)
    assert english.headline == "Scan to join Mama Put Kitchen rewards"
    assert english.offer == "Get 50 points free when you join!"
    assert english.steps[1] == f"Send the WhatsApp message: JOIN{NBSP}MAMA"
    assert english.footer == f"No camera? Send JOIN{NBSP}MAMA to +1{NBSP}415-523-8886 on WhatsApp."
    assert french.headline == "Scannez pour rejoindre les cadeaux de Mama Put Kitchen"
    assert french.offer == f"Cumulez des points à chaque visite{NBSP}!"


def test_a_long_name_still_leaves_a_readable_qr(app, mama, db):
    with db.transaction() as session:
        tenant = session.get(Tenant, mama.id)
        tenant.name = "Mama Put Kitchen and Grill " * 9
        png = print_poster(tenant, "a5", "png")
    assert decoded_links(png) == [EXPECTED_LINK]


def test_the_qr_command_takes_the_format_from_the_file_name(app, mama, tmp_path):
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["qr", "MAMA", "--poster", "a5", "-o", str(tmp_path / "mama.jpg")])
    assert refused.exit_code != 0 and "written as pdf or png, not mama.jpg" in refused.output
    without_poster = runner.invoke(args=["qr", "MAMA", "-o", str(tmp_path / "mama.pdf")])
    assert without_poster.exit_code != 0 and "Without --poster" in without_poster.output
    assert not (tmp_path / "mama.jpg").exists() and not (tmp_path / "mama.pdf").exists()
