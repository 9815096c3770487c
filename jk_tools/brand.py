"""The integration's brand images, drawn from one geometry.

Four cells of a pack, filled to different levels, and the level they are
balanced to: what the balancer does, at a glance. Drawn four times larger
than needed and scaled down, so edges are smooth. Home Assistant (2026.3 and
later) serves ``custom_components/jk_balancer/brand``; ``scripts/brand``
writes the files, and a test checks the committed ones are what this draws.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
import io
from pathlib import Path
import sys
from typing import Final

from PIL import Image, ImageDraw, ImageFont

ROOT: Final = Path(__file__).resolve().parents[1]
BRAND: Final = ROOT / "custom_components" / "jk_balancer" / "brand"
SUPERSAMPLE: Final = 4
WORDMARK: Final = "JK Balancer"

# The geometry, in units of the icon's side (0..1).
CELL_WIDTH: Final = 0.17
CELL_GAP: Final = 0.055
CELL_TOP: Final = 0.14
CELL_BOTTOM: Final = 0.94
TERMINAL: Final = (0.07, 0.05)  # width, height of each cell's terminal
OUTLINE: Final = 0.035
# Charge of each cell (0..1), and the level balancing brings them to.
LEVELS: Final = (0.42, 0.66, 0.50, 0.74)
BALANCED: Final = sum(LEVELS) / len(LEVELS)


@dataclass(frozen=True)
class Palette:
    """Colours for a light or a dark background."""

    outline: str
    charge: str
    level: str
    text: str


LIGHT: Final = Palette("#263238", "#2E9D5B", "#F28C18", "#263238")
DARK: Final = Palette("#ECEFF1", "#4CC784", "#FFA53A", "#ECEFF1")


def draw_icon(side: int, palette: Palette) -> Image.Image:
    """The square mark, ``side`` pixels wide, on a transparent background."""
    big = side * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def px(value: float) -> int:
        return round(value * big)

    pack_width = 4 * CELL_WIDTH + 3 * CELL_GAP
    left = (1 - pack_width) / 2
    line = max(1, px(OUTLINE))
    inner_top = CELL_TOP + OUTLINE
    inner_bottom = CELL_BOTTOM - OUTLINE
    for number, level in enumerate(LEVELS):
        x0 = left + number * (CELL_WIDTH + CELL_GAP)
        x1 = x0 + CELL_WIDTH
        middle = (x0 + x1) / 2
        terminal_w, terminal_h = TERMINAL
        draw.rounded_rectangle(
            (
                px(middle - terminal_w / 2),
                px(CELL_TOP - terminal_h),
                px(middle + terminal_w / 2),
                px(CELL_TOP + OUTLINE),
            ),
            radius=px(0.012),
            fill=palette.outline,
        )
        fill_top = inner_bottom - level * (inner_bottom - inner_top)
        draw.rectangle(
            (px(x0 + OUTLINE), px(fill_top), px(x1 - OUTLINE), px(inner_bottom)),
            fill=palette.charge,
        )
        draw.rounded_rectangle(
            (px(x0), px(CELL_TOP), px(x1), px(CELL_BOTTOM)),
            radius=px(0.04),
            outline=palette.outline,
            width=line,
        )
    balanced = inner_bottom - BALANCED * (inner_bottom - inner_top)
    draw.rounded_rectangle(
        (
            px(left - 0.04),
            px(balanced - OUTLINE / 2),
            px(left + pack_width + 0.04),
            px(balanced + OUTLINE / 2),
        ),
        radius=px(OUTLINE / 2),
        fill=palette.level,
    )
    return image.resize((side, side), Image.Resampling.LANCZOS)


def draw_logo(height: int, palette: Palette) -> Image.Image:
    """The mark with the wordmark to its right, ``height`` pixels high."""
    icon = draw_icon(height, palette)
    font = ImageFont.load_default(size=round(height * 0.42))
    measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = measure.textbbox((0, 0), WORDMARK, font=font)
    gap = round(height * 0.12)
    width = height + gap + round(right - left) + round(height * 0.08)
    logo = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    logo.paste(icon, (0, 0), icon)
    draw = ImageDraw.Draw(logo)
    baseline = (height - (bottom - top)) / 2 - top
    draw.text((height + gap - left, baseline), WORDMARK, font=font, fill=palette.text)
    return logo


def images() -> dict[str, Image.Image]:
    """Every file of the brand folder (the dark ones for dark themes)."""
    result: dict[str, Image.Image] = {}
    for prefix, palette in (("", LIGHT), ("dark_", DARK)):
        result[f"{prefix}icon.png"] = draw_icon(256, palette)
        result[f"{prefix}icon@2x.png"] = draw_icon(512, palette)
        result[f"{prefix}logo.png"] = draw_logo(128, palette)
        result[f"{prefix}logo@2x.png"] = draw_logo(256, palette)
    return result


def png(image: Image.Image) -> bytes:
    """The image as PNG bytes (the same bytes for the same pixels)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Write the brand folder (or, with --check, compare it)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the files differ"
    )
    args = parser.parse_args(argv)
    BRAND.mkdir(exist_ok=True)
    stale = []
    for name, image in images().items():
        path = BRAND / name
        data = png(image)
        if path.exists() and path.read_bytes() == data:
            continue
        stale.append(name)
        if not args.check:
            path.write_bytes(data)
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run scripts/brand)", file=sys.stderr)
        return 1
    if not args.check:
        print(f"{len(stale)} file(s) written to {BRAND.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
