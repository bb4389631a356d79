"""QR posters decode (with zbar) to the vendor's wa.me JOIN link."""
from __future__ import annotations

import io

from PIL import Image
from pyzbar.pyzbar import decode

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
