"""The ML API's sentiment route on Flask (served by gunicorn)."""

from flask import Flask, jsonify, request

from peer_common import ml_service, text_error

app = Flask(__name__)


@app.post("/api/sentiment")
def sentiment():
    body = request.get_json(silent=True)
    error = text_error(body)
    if error:
        return jsonify(error=error), 400
    return jsonify(ml_service.sentiment(body["text"]))
