"""Moxie's brand images: what Home Assistant serves for a custom integration, and the add-on's."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
import pytest

from tests.addons import ADDON_SLUGS

ROOT = Path(__file__).parents[2]
BRAND = ROOT / "custom_components" / "moxie" / "brand"


@pytest.mark.parametrize(("name", "size"), [("icon.png", (256, 256)), ("icon@2x.png", (512, 512))])
def test_icons_are_square_and_transparent(name: str, size: tuple[int, int]) -> None:
    with Image.open(BRAND / name) as image:
        assert image.size == size
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0  # transparent corner: no box around the face


@pytest.mark.parametrize("name", ["logo.png", "dark_logo.png"])
def test_logos_are_landscape_within_brand_limits(name: str) -> None:
    # Home Assistant's brands: the shortest side 128-256 px, @2x 256-512 px.
    for file, low, high in ((name, 128, 256), (name.replace(".png", "@2x.png"), 256, 512)):
        with Image.open(BRAND / file) as image:
            width, height = image.size
            assert width > height
            assert low <= height <= high


def test_dark_logo_differs_from_the_light_one() -> None:
    light = (BRAND / "logo.png").read_bytes()
    assert (BRAND / "dark_logo.png").read_bytes() != light


@pytest.mark.parametrize("slug", ADDON_SLUGS)
@pytest.mark.parametrize(("name", "size"), [("icon.png", (128, 128)), ("logo.png", (250, 100))])
def test_addon_images(slug: str, name: str, size: tuple[int, int]) -> None:
    with Image.open(ROOT / "addons" / slug / name) as image:
        assert image.size == size
