"""Secrets in WeChat query strings never reach the logs."""

from __future__ import annotations

import logging

from backend.integrations import SecretMaskingFilter, mask_secrets_in_logs


def test_httpx_request_lines_are_logged_with_secrets_masked(wechat, wechat_client, caplog):
    mask_secrets_in_logs()
    try:
        with caplog.at_level(logging.INFO, logger="httpx"):
            wechat_client.code2session(wechat.issue_login_code("o-user-1"))
            wechat_client.get_unlimited("s1", "pages/index/index")
    finally:
        logger = logging.getLogger("httpx")
        for f in [f for f in logger.filters if isinstance(f, SecretMaskingFilter)]:
            logger.removeFilter(f)
    text = caplog.text
    assert "secret=***" in text and "access_token=***" in text
    assert wechat.secret not in text and wechat_client.access_token() not in text
