"""The Python half of tests/value_props.rs: whatever arrives goes back."""


def echo(value):
    return value
