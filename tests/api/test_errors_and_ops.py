"""One JSON error shape under /api, operations endpoints, and the offline API docs."""

import re

import pytest


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"code": 404, "message": "资源不存在"}


def test_wrong_method_is_json_405_with_allow(client):
    response = client.delete("/api/v1/units/U1")
    assert response.status_code == 405
    assert response.json["code"] == 405
    assert "PUT" in response.headers["Allow"]


def test_unexpected_failure_is_json_500_without_a_stack_trace(make_app):
    broken = make_app(PROPAGATE_EXCEPTIONS=False)

    @broken.get("/api/v1/explode")
    def explode():
        raise RuntimeError("secret internal detail")

    response = broken.test_client().get("/api/v1/explode")
    assert response.status_code == 500
    assert response.json == {"code": 500, "message": "服务器内部错误"}
    assert b"Traceback" not in response.data and b"secret" not in response.data


def test_pages_outside_the_api_get_a_chinese_html_error(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "资源不存在" in response.get_data(as_text=True)


def test_healthz_answers(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_reports_database_and_embedded_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "embedded"}


def test_readyz_is_503_when_redis_is_unreachable(make_app):
    cut_off = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = cut_off.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["redis"] == "unreachable"


def healthz_count(client) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    found = re.search(r'ssp_http_requests_total\{endpoint="/healthz",method="GET",status="200"\} '
                      r"([0-9.]+)", text)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_requests_by_endpoint(client):
    before = healthz_count(client)
    client.get("/healthz")
    client.get("/api/v1/templates")
    assert healthz_count(client) == before + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'ssp_http_request_duration_seconds_bucket{endpoint="/api/v1/templates"' in text


def test_openapi_document_lists_the_directory_and_bearer_auth(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/units/{code}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_docs_page_loads_only_assets_served_by_the_app(client):
    page = client.get("/api/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("/api/docs/assets/", "/static/docs/")) for s in sources)
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source


@pytest.mark.parametrize("path", ["/api/v1/templates", "/api/v1/templates/service_event"])
def test_template_endpoints_answer(client, path):
    assert client.get(path).status_code == 200
