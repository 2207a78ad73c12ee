"""Running a snippet of the project under `python -O`, where bare asserts vanish: checks that protect money
must be raised errors, and the tests prove it this way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_with_asserts_stripped(script: str) -> subprocess.CompletedProcess[str]:
    """Runs `script` with `python -O` from the project's root; its output is text."""
    return subprocess.run([sys.executable, "-O", "-c", script], cwd=ROOT, capture_output=True, text=True, check=False)
