"""The baseline: a bare Flask application with one POST endpoint answering a small JSON 201.

Served by gunicorn with the service's settings, it receives the very requests sent to the service
(same path, headers and JSON body): what is left is the cost of Flask, gunicorn and the network.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.post("/api/v1/public_markets")
def create() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    return jsonify({"identifier": "VR-BARE", "received": len(body)}), 201
