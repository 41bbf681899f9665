"""Imports nothing of the project: no change here, no reload."""
import secrets

LOADED_AT = secrets.token_hex(8)  # new on each execution


def loaded_at():
    return LOADED_AT
