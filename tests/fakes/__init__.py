"""Local stand-ins for third-party platforms: real HTTP servers speaking the platforms' formats.

The sample bodies and the Allegro OpenAPI spec live in ../shared/fixtures (see its SOURCE files);
set KONTOR_FIXTURES_DIR to use another copy.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def fixture_path(*parts: str) -> Path:
    """A file under the shared fixtures folder; a clear error (never a skip) when it is missing."""
    path = Path(os.environ.get("KONTOR_FIXTURES_DIR", DEFAULT_FIXTURES_DIR)).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"Test fixture {path} is missing. The fakes need the shared platform fixtures "
            f"(../shared/fixtures next to the project, or KONTOR_FIXTURES_DIR).")
    return path
