"""Observability: JSON logs with request and job ids, secrets masked, Prometheus metrics."""
