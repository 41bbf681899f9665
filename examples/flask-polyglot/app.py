"""The Flask app of the polyglot example. It runs on its own
(`tandem run --wsgi examples/flask-polyglot/app.py`) or mounted at /flask
in server.ts, and calls TypeScript (typescript_utils.ts) from its request
threads through tandem.js.
"""

from flask import Flask, jsonify, request, url_for

from tandem import JSError, js

import ml_service

# What `import { ... } from "./app.py"` in server.ts sees.
__all__ = ["app"]

# Evaluated once per process, on Tandem's JS module host.
utils = js.require("./typescript_utils.ts")

app = Flask(__name__)


@app.get("/")
def index():
    return jsonify(
        service="flask",
        predict=url_for("predict"),
        slug=url_for("slug", title="Hello World"),
        model=ml_service.model_info(),
    )


@app.post("/predict")
def predict():
    body = request.get_json(silent=True)
    errors = utils.validateMeasurements(body, ml_service.FEATURES)
    if errors:
        return jsonify(error="invalid measurements", details=errors), 400
    result = ml_service.predict(body)
    result["summary"] = utils.describePrediction(result["species"], result["probability"])
    result["audit"] = utils.audit("predict", {"species": result["species"]})
    return jsonify(result)


@app.get("/slug/<path:title>")
def slug(title):
    return jsonify(title=title, slug=utils.slugify(title))


@app.get("/ts-error")
def ts_error():
    """A TypeScript error reaches Flask as tandem.JSError."""
    try:
        utils.describePrediction(None, 0.5)
    except JSError as error:
        return jsonify(caught=error.js_name, message=error.js_message), 500
    return jsonify(caught=None)
