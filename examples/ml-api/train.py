"""Trains the ML API's three models into models/ (run by scripts/setup.sh).

* sentiment.joblib: TF-IDF of words and word pairs + logistic regression
  on data/sentiment.csv (negative / neutral / positive);
  sentiment_v2.joblib: the same data and classifier on another feature
  set, character 2- to 5-grams (the example serves it as version v2).
* digits.onnx: a multi-layer perceptron on scikit-learn's bundled 8x8
  digit images, exported to ONNX with skl2onnx and served by onnxruntime;
  digits_test.npz keeps the held-out images for the tests.
* recommender.npz: item-item cosine similarity over a user x item
  interaction matrix generated here (users prefer one or two categories).

Everything trains offline from what the project ships; a run takes a few
seconds. Pass --force to retrain when the models exist.
"""

import csv
import json
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
SEED = 7


def train_sentiment():
    return {
        "v1": train_sentiment_on(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True), "sentiment.joblib"
        ),
        "v2": train_sentiment_on(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True),
            "sentiment_v2.joblib",
        ),
    }


def train_sentiment_on(features, filename):
    with (HERE / "data" / "sentiment.csv").open() as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    labels = [r["label"] for r in rows]
    train_x, test_x, train_y, test_y = train_test_split(
        texts, labels, test_size=0.2, random_state=SEED, stratify=labels
    )
    model = make_pipeline(features, LogisticRegression(max_iter=2000, C=10.0))
    model.fit(train_x, train_y)
    accuracy = model.score(test_x, test_y)
    model.fit(texts, labels)  # the served model sees every example
    joblib.dump(model, MODELS / filename)
    return {"examples": len(texts), "held_out_accuracy": round(accuracy, 3)}


def train_digits():
    from skl2onnx import to_onnx

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixels 0..16 -> 0..1
    y = digits.target
    train_x, test_x, train_y, test_y = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    model = MLPClassifier(hidden_layer_sizes=(64,), max_iter=600, random_state=SEED)
    model.fit(train_x, train_y)
    accuracy = model.score(test_x, test_y)
    onnx_model = to_onnx(
        model, train_x[:1], target_opset=17, options={id(model): {"zipmap": False}}
    )
    (MODELS / "digits.onnx").write_bytes(onnx_model.SerializeToString())
    np.savez_compressed(MODELS / "digits_test.npz", images=test_x.reshape(-1, 8, 8), labels=test_y)
    return {"train_images": len(train_x), "held_out_accuracy": round(accuracy, 3)}


CATEGORIES = ["books", "music", "games", "garden", "kitchen"]
ITEMS_PER_CATEGORY = 20
USERS = 300


def interactions(rng):
    """A user x item 0/1 matrix: each user mostly picks items of one or two
    favourite categories, sometimes anything, with a few items per category
    more popular than the rest."""
    n_items = len(CATEGORIES) * ITEMS_PER_CATEGORY
    popularity = rng.pareto(2.0, n_items) + 1.0
    matrix = np.zeros((USERS, n_items), dtype=np.float32)
    for user in range(USERS):
        favourites = rng.choice(len(CATEGORIES), size=rng.integers(1, 3), replace=False)
        weights = np.full(n_items, 0.05) * popularity
        for c in favourites:
            weights[c * ITEMS_PER_CATEGORY:(c + 1) * ITEMS_PER_CATEGORY] *= 40.0
        picks = rng.choice(n_items, size=rng.integers(8, 25), replace=False, p=weights / weights.sum())
        matrix[user, picks] = 1.0
    return matrix


def train_recommender():
    rng = np.random.default_rng(SEED)
    matrix = interactions(rng)
    norms = np.linalg.norm(matrix, axis=0)
    norms[norms == 0] = 1.0
    similarity = (matrix.T @ matrix) / np.outer(norms, norms)
    np.fill_diagonal(similarity, 0.0)
    items = [f"{c}-{i:02d}" for c in CATEGORIES for i in range(ITEMS_PER_CATEGORY)]
    np.savez_compressed(
        MODELS / "recommender.npz",
        interactions=matrix,
        similarity=similarity.astype(np.float32),
        popularity=matrix.sum(axis=0),
        items=np.array(items),
    )
    return {"users": USERS, "items": len(items), "interactions": int(matrix.sum())}


def main():
    force = "--force" in sys.argv
    MODELS.mkdir(exist_ok=True)
    report_path = MODELS / "report.json"
    expected = ["sentiment.joblib", "sentiment_v2.joblib", "digits.onnx", "digits_test.npz", "recommender.npz"]
    if report_path.exists() and all((MODELS / name).exists() for name in expected) and not force:
        print(f"models already trained in {MODELS} (pass --force to retrain)")
        return
    report = {
        "sentiment": train_sentiment(),
        "digits": train_digits(),
        "recommender": train_recommender(),
    }
    report_path.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
