"""Secrets never reach a log line: link tokens, scenes, receipts and phone numbers are masked."""

from __future__ import annotations

import logging
import re

# A token is a capability: /r/<token>, /r/<token>/qr.svg, /api/v1/invitations/<token>/rating.
TOKEN_PATH = re.compile(r"(/r/|/api/v1/invitations/)[^/?#\s\"']+")
# What must never reach a log line in clear: links and scenes (capabilities), receipts (they
# name a rating to whoever holds them), an official's own report links and phone numbers, in
# paths and anywhere in a message.
SECRET_PATH = re.compile(r"(/r/|/api/v1/invitations/|/receipt/|/api/v1/receipts/|/o/)"
                         r"[^/?#\s\"']+")
SIGNED_TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{20}\.[A-Za-z0-9_-]{8,64}(?![\w-])")
RECEIPT = re.compile(r"(?<![\w-])[0-9a-fA-F]{32}(?![\w-])")
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def mask_secrets(text: str) -> str:
    """Mask link tokens, scenes, receipts and phone numbers (138****8000) in a text."""
    text = SECRET_PATH.sub(r"\1***", text)
    text = SIGNED_TOKEN.sub("***", text)
    text = RECEIPT.sub("***", text)
    return PHONE.sub(r"\1****\2", text)


def carries_token(path: str) -> bool:
    """Tell whether a request path holds an invitation token."""
    return TOKEN_PATH.match(path) is not None


class TokenMaskingFilter(logging.Filter):
    """Rewrite log records so that no token, scene, receipt or phone reaches a log line."""
    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the record's message; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's business, not ours
            return True
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


MASKING_FILTER = TokenMaskingFilter()


def mask_tokens_in_logs(logger_names: tuple[str, ...] = ("werkzeug", "")) -> None:
    """Install the filter on the werkzeug and root loggers and on the root's handlers."""
    root = logging.getLogger()
    # Filters on a logger only see records logged there; handlers also see propagated ones.
    targets = [logging.getLogger(name) for name in logger_names] + list(root.handlers)
    for target in targets:
        if MASKING_FILTER not in target.filters:
            target.addFilter(MASKING_FILTER)
