"""Use cases. Services take a session and injected side effects; they never import flask."""
