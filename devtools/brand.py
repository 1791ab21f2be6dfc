"""Draw the integration's brand images (icon and logo, light and dark).

They go to custom_components/smartcity_ddc/brand/, where Home Assistant 2026.3+
serves a custom integration's own brand images and the HACS action looks for
them (home-assistant/brands no longer takes custom integrations).

A bus-shelter glyph — roof, glass back wall, bench and the DDC's status light —
drawn with Pillow at 4x and downsampled, so the images are reproducible from
this file alone: `python -m devtools.brand`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
SCALE = 4

LIGHT = {
    "ink": (3, 105, 161),
    "glass": (186, 230, 253),
    "accent": (16, 185, 129),
    "text": (15, 23, 42),
}
DARK = {
    "ink": (125, 211, 252),
    "glass": (30, 64, 90),
    "accent": (52, 211, 153),
    "text": (241, 245, 249),
}


def _glyph(size: int, colours: dict[str, tuple[int, int, int]]) -> Image.Image:
    """Draw the shelter glyph on a transparent square."""
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = big / 16
    ink, glass, accent = colours["ink"], colours["glass"], colours["accent"]
    # Glass back wall and the two posts.
    draw.rectangle((3 * unit, 5 * unit, 13 * unit, 12 * unit), fill=glass)
    for x in (2.5, 12.5):
        draw.rectangle((x * unit, 4.5 * unit, (x + 1) * unit, 14.5 * unit), fill=ink)
    # Roof, sloping slightly forward.
    draw.polygon(
        [
            (1 * unit, 3 * unit),
            (15 * unit, 2.2 * unit),
            (15 * unit, 4 * unit),
            (1 * unit, 4.8 * unit),
        ],
        fill=ink,
    )
    # Heated bench.
    draw.rounded_rectangle(
        (4 * unit, 10 * unit, 12 * unit, 11 * unit), radius=unit / 3, fill=ink
    )
    draw.rectangle((5 * unit, 11 * unit, 5.6 * unit, 12.5 * unit), fill=ink)
    draw.rectangle((10.4 * unit, 11 * unit, 11 * unit, 12.5 * unit), fill=ink)
    # The DDC's status light.
    draw.ellipse((10.3 * unit, 6 * unit, 11.7 * unit, 7.4 * unit), fill=accent)
    # Ground line.
    draw.rounded_rectangle(
        (1 * unit, 14.5 * unit, 15 * unit, 15.2 * unit), radius=unit / 3, fill=ink
    )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _logo(height: int, colours: dict[str, tuple[int, int, int]]) -> Image.Image:
    """Draw the glyph with the name beside it."""
    font = ImageFont.load_default(size=int(height * 0.42))
    text = "Smart City DDC"
    left, top, right, bottom = font.getbbox(text)
    width = height + int(height * 0.15) + int(right - left) + int(height * 0.1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.alpha_composite(_glyph(height, colours))
    draw = ImageDraw.Draw(image)
    draw.text(
        (height + int(height * 0.15), (height - (bottom - top)) / 2 - top),
        text,
        font=font,
        fill=colours["text"],
    )
    return image


def main() -> None:
    """Write every brand image."""
    out = ROOT / "custom_components" / "smartcity_ddc" / "brand"
    out.mkdir(exist_ok=True)
    for prefix, colours in (("", LIGHT), ("dark_", DARK)):
        _glyph(256, colours).save(out / f"{prefix}icon.png", optimize=True)
        _glyph(512, colours).save(out / f"{prefix}icon@2x.png", optimize=True)
        _logo(128, colours).save(out / f"{prefix}logo.png", optimize=True)
        _logo(256, colours).save(out / f"{prefix}logo@2x.png", optimize=True)
    print(f"brand images written to {out}")


if __name__ == "__main__":
    main()
