"""What the Python peers of the ML benchmark share: the example's model
module (the same models, loaded the same way) and its input check."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The `tandem` helper package (for the decorator ml_service uses; outside
# Tandem the peers call the unbatched functions) and the example itself.
sys.path[:0] = [str(ROOT / "runtime" / "pylib"), str(ROOT / "examples" / "ml-api")]

import ml_service  # noqa: E402


def text_error(body):
    """The error message for a bad /api/sentiment body, or None."""
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str) or not 1 <= len(text) <= 10000:
        return "text must be a string of 1 to 10000 characters"
    return None
