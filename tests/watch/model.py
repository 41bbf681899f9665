"""The model: its stamp tells whether it was executed again."""
import secrets

LABEL = "pos"
LOADED_AT = secrets.token_hex(8)  # new on each execution


def predict(text):
    return {"label": LABEL, "model": LOADED_AT}
