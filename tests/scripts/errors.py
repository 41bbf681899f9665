class ModelError(Exception):
    pass


def fail(message):
    raise ValueError(message)


def fail_custom():
    raise ModelError("the model is not trained")


def call_and_catch(callback):
    """Calls a JS callback and reports the JSError Python sees."""
    import tandem

    try:
        callback()
    except tandem.JSError as e:
        return {"type": type(e).__name__, "name": e.js_name, "message": e.js_message, "has_stack": bool(e.js_stack)}
    return "no error"


def call_and_let_through(callback):
    return callback()
