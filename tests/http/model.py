"""Python behind the test server's routes."""


def classify(text):
    words = text.lower().split()
    positive = sum(w in ("good", "great", "love") for w in words)
    negative = sum(w in ("bad", "awful", "hate") for w in words)
    label = "positive" if positive > negative else "negative" if negative > positive else "neutral"
    return {"label": label, "words": len(words)}


def fail_with(kind):
    if kind == "value":
        raise ValueError("the value is out of range")
    if kind == "key":
        raise KeyError("no such model")
    raise RuntimeError("the model crashed")
