"""Draw Moxie's brand images: a friendly robot face from simple shapes (Pillow only).

Writes the integration's `custom_components/moxie/brand/` (what Home Assistant 2026.10 serves for
a custom integration: icon.png 256x256, icon@2x.png 512x512, logo.png and logo@2x.png landscape,
dark_logo variants with light text) and each add-on's `addons/<slug>/icon.png` (128x128) and
`logo.png` (250x100). Run: `.venv/bin/python scripts/make_brand.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
BRAND = ROOT / "custom_components" / "moxie" / "brand"
ADDONS = [ROOT / "addons" / slug for slug in ("moxie_speaker", "moxie_turn")]

# Drawn at this size, then scaled down (smooth edges without anti-aliasing primitives).
CANVAS = 1024
SKY = (79, 195, 232, 255)
DEEP = (30, 143, 176, 255)
NAVY = (22, 33, 62, 255)
GLOW = (127, 231, 255, 255)
WHITE = (255, 255, 255, 255)
CORAL = (255, 159, 67, 255)
BLUSH = (255, 143, 163, 200)
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
)


def robot_face() -> Image.Image:
    """Moxie's face on a transparent square canvas."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    # Antenna with a coral ball.
    draw.rounded_rectangle((492, 70, 532, 200), radius=20, fill=DEEP)
    draw.ellipse((447, 20, 577, 150), fill=CORAL)
    # Ears.
    draw.rounded_rectangle((40, 420, 150, 680), radius=50, fill=DEEP)
    draw.rounded_rectangle((874, 420, 984, 680), radius=50, fill=DEEP)
    # Head and face screen.
    draw.rounded_rectangle((110, 170, 914, 960), radius=300, fill=SKY)
    draw.rounded_rectangle((200, 280, 824, 860), radius=230, fill=NAVY)
    # Eyes with highlights.
    for left in (300, 584):
        draw.ellipse((left, 410, left + 140, 590), fill=GLOW)
        draw.ellipse((left + 70, 435, left + 115, 480), fill=WHITE)
    # Cheeks and smile.
    draw.ellipse((255, 610, 345, 660), fill=BLUSH)
    draw.ellipse((679, 610, 769, 660), fill=BLUSH)
    draw.arc((395, 560, 629, 760), start=20, end=160, fill=GLOW, width=34)
    return image


def icon(size: int) -> Image.Image:
    """Return the square icon at size x size."""
    return robot_face().resize((size, size), Image.Resampling.LANCZOS)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def logo(height: int, text_color: tuple[int, int, int, int]) -> Image.Image:
    """Return the face followed by the word Moxie, `height` pixels tall."""
    scale = 4
    tall = height * scale
    font = _font(int(tall * 0.62))
    word = "Moxie"
    measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = measure.textbbox((0, 0), word, font=font)
    gap = tall // 8
    image = Image.new("RGBA", (tall + gap + (right - left) + gap, tall), (0, 0, 0, 0))
    image.paste(robot_face().resize((tall, tall), Image.Resampling.LANCZOS), (0, 0))
    draw = ImageDraw.Draw(image)
    y = (tall - (bottom - top)) // 2 - top
    draw.text((tall + gap - left, y), word, font=font, fill=text_color)
    width = image.width // scale
    return image.resize((width, height), Image.Resampling.LANCZOS)


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Return image scaled to fit inside width x height, centred on a transparent canvas."""
    ratio = min(width / image.width, height / image.height)
    scaled = image.resize(
        (round(image.width * ratio), round(image.height * ratio)), Image.Resampling.LANCZOS
    )
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
    return canvas


def main() -> None:
    """Write every brand image."""
    BRAND.mkdir(parents=True, exist_ok=True)
    icon(256).save(BRAND / "icon.png", optimize=True)
    icon(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(128, NAVY).save(BRAND / "logo.png", optimize=True)
    logo(256, NAVY).save(BRAND / "logo@2x.png", optimize=True)
    logo(128, WHITE).save(BRAND / "dark_logo.png", optimize=True)
    logo(256, WHITE).save(BRAND / "dark_logo@2x.png", optimize=True)
    images = sorted(BRAND.glob("*.png"))
    for addon in ADDONS:
        icon(128).save(addon / "icon.png", optimize=True)
        fit(logo(100, NAVY), 250, 100).save(addon / "logo.png", optimize=True)
        images += [addon / "icon.png", addon / "logo.png"]
    for path in images:
        with Image.open(path) as written:
            print(f"{path.relative_to(ROOT)}: {written.width}x{written.height}")


if __name__ == "__main__":
    main()
