"""A sibling module: `ml_service.py` imports it like any Python module."""

import re


def tokenize(text):
    return re.findall(r"[a-z']+", text.lower())
