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


class QuotaError(ModelError):
    """An exception that carries data (tests/scripts/python_error_data.ts)."""

    def __init__(self, message, code, retry_after):
        super().__init__(message, code)
        self.code = code
        self.retry_after = retry_after
        self.name = "kept in attributes only"  # Error's own `name` wins on the error
        self._secret = "private names stay in Python"
        self.model = ModelError("a detail that is an object")
        self.loop = []
        self.loop.append(self.loop)  # cannot convert: crosses as its repr


def fail_quota():
    raise QuotaError("quota exceeded", "E_QUOTA", 30)


def fail_lookup(kind):
    if kind == "key":
        raise KeyError(kind)
    if kind == "index":
        raise IndexError(kind)
    raise ModelError("not trained")
