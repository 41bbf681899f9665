"""Prints the ML API's held-out digit images as JSON lines
{"label": 3, "png": "<base64>"}, each 8x8 image scaled up to 32x32 and
drawn dark on light (as a scan would be), for tests/ml_api.rs."""

import base64
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

models = Path(__file__).resolve().parents[2] / "examples" / "ml-api" / "models"
count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
with np.load(models / "digits_test.npz") as data:
    for image, label in zip(data["images"][:count], data["labels"][:count]):
        pixels = (255 - image * 255).astype(np.uint8)
        png = io.BytesIO()
        Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(png, format="PNG")
        print(json.dumps({"label": int(label), "png": base64.b64encode(png.getvalue()).decode()}))
