"""The ML API's models, loaded once per process and warmed up at import.

TypeScript (server.ts) imports this file; every worker isolate of the
process shares the module and so the models. Models come from models/,
written by train.py (scripts/setup.sh runs it):

* sentiment: TF-IDF + logistic regression, classes negative/neutral/positive;
* image classifier: the digits MLP as ONNX on onnxruntime, or a user's own
  ImageNet-style .onnx model (see ImageNetClassifier);
* recommender: item-item cosine similarity over user interactions;
* `models`, a tandem.ModelRegistry holding two sentiment versions side by
  side (v1: word features, v2: character n-grams, its concurrent calls
  batched) for header routing, weighted A/B splits and shadow traffic.

Bad input raises InputError, which server.ts answers with 400.
"""

import base64
import binascii
import io
import os
import re
from pathlib import Path
from typing import Any, Iterator, Literal, Optional, TypedDict

import joblib
import numpy as np
import onnxruntime

import tandem

MODELS = Path(__file__).resolve().parent / "models"

__all__ = [
    "InputError",
    "sentiment",
    "sentiment_many",
    "sentiment_batched",
    "sentiment_stream",
    "classify",
    "classifier_info",
    "recommend",
    "seen_items",
    "model_info",
    "predict_sentiment",
    "model_versions",
    "load_model",
    "unload_model",
    "set_traffic",
]


class InputError(ValueError):
    """The caller's input cannot be used (answered with 400)."""


# What the functions return: these hints are also the TypeScript types
# server.ts sees (ml_service.d.py.ts, written by `tandem types`).


class Sentiment(TypedDict):
    sentiment: str
    confidence: float
    scores: dict[str, float]


class SentenceSentiment(Sentiment):
    index: int
    sentence: str


class ImageClass(TypedDict):
    class_id: int
    label: str
    confidence: float


class ClassifierInfo(TypedDict):
    model: str
    classes: int


class ScoredItem(TypedDict):
    item: str
    score: float


class Recommendations(TypedDict):
    user_id: Any
    strategy: Literal["item-item", "popular"]
    items: list[ScoredItem]


class VersionedResult(TypedDict):
    model: str
    version: str
    result: Sentiment


def _require(path):
    if not path.exists():
        raise RuntimeError(
            f"model file {path} is missing: run `python examples/ml-api/train.py` "
            "(scripts/setup.sh does it)"
        )
    return path


# ---------------------------------------------------------------- sentiment

_sentiment_model = joblib.load(_require(MODELS / "sentiment.joblib"))
_SENTIMENT_CLASSES = [str(c) for c in _sentiment_model.classes_]


def _sentiment_rows(texts):
    probabilities = _sentiment_model.predict_proba(texts)
    # Rounded and turned into Python floats in two vectorised calls rather
    # than value by value: a batch of 32 rows costs ~30 us instead of ~180.
    best = probabilities.argmax(axis=1).tolist()
    rounded = np.round(probabilities, 4).tolist()
    return [
        {"sentiment": _SENTIMENT_CLASSES[b], "confidence": row[b], "scores": dict(zip(_SENTIMENT_CLASSES, row))}
        for b, row in zip(best, rounded)
    ]


def sentiment(text: str) -> Sentiment:
    """Classifies one text: {sentiment, confidence, scores}."""
    return _sentiment_rows([text])[0]


def sentiment_many(texts: list[str]) -> list[Sentiment]:
    """Classifies a list of texts in one vectorised call."""
    return _sentiment_rows(texts) if texts else []


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentiment_stream(text: str) -> Iterator[SentenceSentiment]:
    """Scores the sentences of a long text one at a time, as a generator of
    {index, sentence, sentiment, confidence, scores}: TypeScript pulls a
    sentence's score only when the client is ready for it."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    for index, sentence in enumerate(sentences):
        yield {"index": index, "sentence": sentence, **sentiment(sentence)}


# By default (BATCH_WAIT_MS=0) a call never waits for company: calls that
# arrive while a batch runs form the next one, so batches grow with the
# load and a lone request pays no delay.
@tandem.batch(max_size=32, max_wait_ms=float(os.environ.get("BATCH_WAIT_MS", "0")))
def sentiment_batched(texts: list[str]) -> list[Sentiment]:
    """sentiment(), with concurrent calls gathered into one model call."""
    return _sentiment_rows(texts)


# ---------------------------------------------------------- image classifier


def _session(path):
    options = onnxruntime.SessionOptions()
    # One interpreter serves all requests; extra intra-op threads would
    # fight the HTTP workers for the same cores on small models.
    options.intra_op_num_threads = int(os.environ.get("ONNX_THREADS", "1"))
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _open_image(data):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise InputError(
            f"the image cannot be decoded: expected a PNG or JPEG file, got {len(data)} bytes of something else"
        ) from None
    if image.width * image.height > 40_000_000:
        raise InputError(f"the image is too large ({image.width}x{image.height} pixels)")
    return image


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


class DigitsClassifier:
    """The bundled model: 8x8 grey digit images (scikit-learn's digits)."""

    name = "digits-mlp"

    def __init__(self, path):
        self.session = _session(path)
        self.input = self.session.get_inputs()[0].name
        self.labels = [str(i) for i in range(10)]

    def preprocess(self, image):
        from PIL import Image

        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
        if border.mean() > 0.5:  # dark ink on light paper: the model saw light on dark
            grey = 1.0 - grey
        small = Image.fromarray((grey * 255).astype(np.uint8)).resize((8, 8), Image.Resampling.BOX)
        return (np.asarray(small, dtype=np.float32) / 255.0).reshape(1, 64)

    def probabilities(self, image):
        outputs = self.session.run(None, {self.input: self.preprocess(image)})
        return outputs[1][0]  # [label, probabilities]


class ImageNetClassifier:
    """A user-supplied image model: any .onnx taking a 1x3x224x224 float
    image normalised the ImageNet way (e.g. torchvision's ResNet-50 exported
    with torch.onnx.export) and giving class scores. Set IMAGE_MODEL to the
    .onnx file and IMAGE_LABELS to a text file with one label per line."""

    MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

    def __init__(self, path, labels_path):
        self.name = Path(path).stem
        self.session = _session(path)
        self.input = self.session.get_inputs()[0].name
        self.labels = None
        if labels_path:
            self.labels = Path(labels_path).read_text().splitlines()

    def preprocess(self, image):
        from PIL import Image

        image = image.convert("RGB")
        scale = 256 / min(image.size)
        image = image.resize((max(224, round(image.width * scale)), max(224, round(image.height * scale))), Image.Resampling.BILINEAR)
        left, top = (image.width - 224) // 2, (image.height - 224) // 2
        image = image.crop((left, top, left + 224, top + 224))
        pixels = (np.asarray(image, dtype=np.float32) / 255.0 - self.MEAN) / self.STD
        return pixels.transpose(2, 0, 1)[np.newaxis].astype(np.float32)

    def probabilities(self, image):
        scores = self.session.run(None, {self.input: self.preprocess(image)})[0][0]
        if scores.min() < 0 or abs(float(scores.sum()) - 1.0) > 1e-3:
            scores = _softmax(scores)  # logits
        if self.labels is None:
            self.labels = [str(i) for i in range(len(scores))]
        return scores


def _load_classifier():
    custom = os.environ.get("IMAGE_MODEL")
    if custom:
        return ImageNetClassifier(custom, os.environ.get("IMAGE_LABELS"))
    return DigitsClassifier(_require(MODELS / "digits.onnx"))


_classifier = _load_classifier()


def _image_bytes(image):
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, str):
        data = image.split(",", 1)[1] if image.startswith("data:") else image
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("image is not valid base64 (or a data: URL)") from None
    raise InputError(f"image must be bytes or a base64 string, got {type(image).__name__}")


def classify(image: bytes | str, top_k: int = 3) -> list[ImageClass]:
    """Top-k classes of an image (bytes, base64 or a data: URL)."""
    if not isinstance(top_k, int) or not 1 <= top_k <= 100:
        raise InputError(f"top_k must be an integer from 1 to 100, got {top_k!r}")
    probabilities = _classifier.probabilities(_open_image(_image_bytes(image)))
    best = np.argsort(probabilities)[::-1][:top_k]
    return [
        {
            "class_id": int(i),
            "label": _classifier.labels[i],
            "confidence": round(float(probabilities[i]), 4),
        }
        for i in best
    ]


def classifier_info() -> ClassifierInfo:
    return {"model": _classifier.name, "classes": len(_classifier.labels)}


# --------------------------------------------------------------- recommender

with np.load(_require(MODELS / "recommender.npz")) as _data:
    _interactions = _data["interactions"]
    _similarity = _data["similarity"]
    _popularity = _data["popularity"]
    _items = [str(i) for i in _data["items"]]


def recommend(user_id: Any, n: int = 10) -> Recommendations:
    """Top-n items the user has not interacted with, scored by item-item
    similarity to what they did interact with; popular items for a user
    the model does not know."""
    if not isinstance(n, int) or not 1 <= n <= 100:
        raise InputError(f"n must be an integer from 1 to 100, got {n!r}")
    known = isinstance(user_id, int) and 0 <= user_id < len(_interactions)
    if known:
        seen = _interactions[user_id] > 0
        scores = _similarity @ _interactions[user_id]
        scores = scores / max(float(seen.sum()), 1.0)
        strategy = "item-item"
    else:
        seen = np.zeros(len(_items), dtype=bool)
        scores = _popularity / _popularity.max()
        strategy = "popular"
    scores = np.where(seen, -np.inf, scores)
    best = np.argsort(scores)[::-1][:n]
    return {
        "user_id": user_id,
        "strategy": strategy,
        "items": [{"item": _items[i], "score": round(float(scores[i]), 4)} for i in best],
    }


def seen_items(user_id: int) -> list[str]:
    """Items the user interacted with (for tests and debugging)."""
    return [_items[i] for i in np.flatnonzero(_interactions[user_id])]


def model_info() -> dict[str, Any]:
    return {
        "sentiment": {"classes": _SENTIMENT_CLASSES},
        "classifier": classifier_info(),
        "recommender": {"users": len(_interactions), "items": len(_items)},
    }


# ------------------------------------------------------------ model versions

models = tandem.ModelRegistry()


def _load_sentiment_v2():
    model = joblib.load(_require(MODELS / "sentiment_v2.joblib"))
    classes = [str(c) for c in model.classes_]

    # A list function: v2 is registered with batch=, so concurrent calls
    # reach it together (one predict_proba for the lot).
    def predict_many(texts):
        rows = np.round(model.predict_proba(texts), 4).tolist()
        answers = []
        for row in rows:
            best = max(range(len(row)), key=row.__getitem__)
            answers.append({"sentiment": classes[best], "confidence": row[best], "scores": dict(zip(classes, row))})
        return answers

    return predict_many


_WARMUP = ["warming up the model", "a great product", "it broke"]
models.register("sentiment", "v1", lambda: sentiment, warmup=_WARMUP, label=lambda r: r["sentiment"])
models.register(
    "sentiment",
    "v2",
    _load_sentiment_v2,
    warmup=_WARMUP,
    batch={"max_size": 32, "max_wait_ms": float(os.environ.get("BATCH_WAIT_MS", "0"))},
)
# v1 takes the traffic; v2 is loaded beside it, for X-Model-Version: v2
# and for the admin routes to give it a share or the shadow.
models.load("sentiment", "v1")
models.load("sentiment", "v2")


def predict_sentiment(text: str, version: Optional[str] = None, key: Optional[str] = None) -> VersionedResult:
    """{model, version, result}: the version asked for, else the one the
    traffic split gives `key` (a user id)."""
    return models.predict("sentiment", text, version=version, key=key)


def model_versions() -> dict[str, Any]:
    return models.status()


def load_model(name: str, version: str) -> dict[str, Any]:
    return models.load(name, version)


def unload_model(name: str, version: str) -> dict[str, Any]:
    return models.unload(name, version)


def set_traffic(name: str, weights: dict[str, float], shadow: Optional[str] = None) -> dict[str, Any]:
    return models.set_traffic(name, weights, shadow)


# ------------------------------------------------------------------ warm-up


def _warm_up():
    """Runs every model once so that the first request is as fast as the
    rest (lazy initialisation in scikit-learn and onnxruntime)."""
    from PIL import Image

    _sentiment_rows(["warming up the model"])
    blank = io.BytesIO()
    Image.new("L", (8, 8)).save(blank, format="PNG")
    classify(blank.getvalue())
    recommend(0)


_warm_up()
