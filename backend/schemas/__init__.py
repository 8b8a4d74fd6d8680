"""Marshmallow schemas of the HTTP API."""
