"""The Flask app of the WSGI benchmark: one plain-text route and one JSON
route, served unchanged by every server in benches/wsgi/run.sh."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def plain():
    return "Hello, World!"


@app.get("/json")
def json_route():
    return jsonify(message="Hello, World!", items=[1, 2, 3])


if __name__ == "__main__":
    # Flask's development server, for the cold-start comparison.
    import sys

    app.run(port=int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
