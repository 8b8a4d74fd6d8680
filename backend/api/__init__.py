"""The JSON API under /api/v1: flask-smorest blueprints that parse, call one service, return."""
