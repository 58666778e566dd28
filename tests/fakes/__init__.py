"""Local stand-ins for third-party platforms: real HTTP servers speaking the platforms' formats.

The sample bodies, PrestaShop's schema and Allegro's OpenAPI spec live in tests/fixtures, each folder
with a file saying where its data comes from.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"


def fixture_path(*parts: str) -> Path:
    """A file under tests/fixtures; a clear error (never a skip) when it is missing."""
    path = FIXTURES_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"Test fixture {path} is missing from the repository (tests/fixtures).")
    return path
