"""The model behind the Flask polyglot example: an iris classifier
(scikit-learn logistic regression), trained at import from the iris data
set scikit-learn ships (no download; a few milliseconds).

Both app.py (the Flask routes) and server.ts (TypeScript routes) call
predict(); in one process they share this module and its model.
"""

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

__all__ = ["FEATURES", "InputError", "predict", "model_info"]

_iris = load_iris()
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
_model = LogisticRegression(max_iter=1000).fit(_iris.data, _iris.target)
_classes = [str(name) for name in _iris.target_names]


class InputError(ValueError):
    """Input the model cannot take; the callers answer 400."""


def predict(measurements):
    """Classifies one flower from its four measurements in cm (a dict keyed
    by FEATURES). Returns the species, its probability and all of them."""
    if not isinstance(measurements, dict):
        raise InputError("measurements must be an object of the four features")
    missing = [name for name in FEATURES if name not in measurements]
    if missing:
        raise InputError(f"missing measurements: {', '.join(missing)}")
    try:
        row = [float(measurements[name]) for name in FEATURES]
    except (TypeError, ValueError):
        raise InputError("measurements must be numbers") from None
    probabilities = _model.predict_proba([row])[0]
    best = int(probabilities.argmax())
    return {
        "species": _classes[best],
        "probability": float(probabilities[best]),
        "probabilities": {name: float(p) for name, p in zip(_classes, probabilities)},
    }


def model_info():
    return {
        "model": "LogisticRegression",
        "classes": _classes,
        "features": FEATURES,
        "training_rows": int(len(_iris.data)),
    }
