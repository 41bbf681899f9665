"""Imports the model, so a change to model.py re-executes it too."""
import secrets

from model import predict

LOADED_AT = secrets.token_hex(8)  # new on each execution


def score(text):
    return {**predict(text), "service": LOADED_AT}
