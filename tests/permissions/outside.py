"""A Python file outside tests/scripts, for the golden permissions_deny_all.ts:
importable only because --allow-python lists it."""


def where():
    return "outside the project root, allowed by name"
