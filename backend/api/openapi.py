"""What the OpenAPI document adds to flask-smorest's: an operationId for every operation."""

from __future__ import annotations

import re

from apispec import BasePlugin

API_PREFIX = "/api/v1/"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operation_id(method: str, path: str) -> str:
    """Name an operation after its method and path: POST /campaigns/{code}/close is
    postCampaignsByCodeClose."""
    words = []
    for segment in path.removeprefix(API_PREFIX).strip("/").split("/"):
        if match := re.fullmatch(r"\{(\w+)\}", segment):
            words += ["by", match.group(1)]
        else:
            words += re.split(r"[^A-Za-z0-9]+", segment)
    return method + "".join(word[:1].upper() + word[1:] for word in words if word)


class OperationIds(BasePlugin):
    """Give every operation without one an operationId derived from its method and path."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        """Fill in the missing operationIds of one path's operations."""
        for method, operation in (operations or {}).items():
            if method in METHODS and isinstance(operation, dict):
                operation.setdefault("operationId", operation_id(method, path or ""))
