"""A tiny Python "model" that TypeScript calls in-process."""

import math

from helpers import tokenize

VERSION = "1.0"
POSITIVE = {"good", "great", "love", "excellent", "happy", "fast"}
NEGATIVE = {"bad", "awful", "hate", "terrible", "sad", "slow"}


def predict(text):
    """Scores the sentiment of `text` from -1 to 1 by counting words."""
    words = tokenize(text)
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    confidence = 1 - math.exp(-abs(score)) if words else 0.0
    label = "positive" if score > 0 else "negative" if score < 0 else "neutral"
    return {"label": label, "score": score, "confidence": round(confidence, 3), "words": len(words)}


class Counter:
    def __init__(self, start=0):
        self.value = start

    def add(self, n=1):
        self.value += n
        return self.value

    def __str__(self):
        return f"Counter({self.value})"
