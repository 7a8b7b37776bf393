"""Error parsing and classification: what the lifecycle decides from an upstream's answer."""

from __future__ import annotations

import pytest

from modelops_operator.providers.errors import (
    AuthenticationError,
    NotFoundError,
    PermanentUpstreamError,
    TransientUpstreamError,
    classify_status,
    parse_error_body,
)


def test_twilio_error_shape() -> None:
    body = (
        b'{"code": 20404, "message": "The requested resource was not found", "more_info": "x", "status": 404}'
    )
    parsed = parse_error_body(body, "application/json")
    assert (parsed.message, parsed.code) == ("The requested resource was not found", "20404")


def test_rfc9457_problem_details() -> None:
    body = b'{"type": "https://x/e", "title": "Bad Request", "detail": "name is required", "status": 400}'
    assert parse_error_body(body, "application/problem+json").message == "name is required"


def test_fastapi_validation_detail_is_readable() -> None:
    body = b'{"detail": [{"loc": ["path", "statusId"], "msg": "value is not a valid id", "type": "x"}]}'
    assert parse_error_body(body, "application/json").message == "path.statusId: value is not a valid id"


def test_text_plain_and_empty_bodies() -> None:
    assert parse_error_body(b"Internal   Server\nError", "text/plain").message == "Internal Server Error"
    assert parse_error_body(b"", None).message == "(empty response body)"


def test_broken_json_falls_back_to_text() -> None:
    assert parse_error_body(b'{"code": 4', "application/json").message == '{"code": 4'


def test_long_text_is_truncated() -> None:
    assert len(parse_error_body(b"x" * 1000, "text/plain").message) == 300


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, TransientUpstreamError),
        (500, TransientUpstreamError),
        (502, TransientUpstreamError),
        (503, TransientUpstreamError),
        (504, TransientUpstreamError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (400, PermanentUpstreamError),
        (409, PermanentUpstreamError),
        (422, PermanentUpstreamError),
    ],
)
def test_classification(status: int, kind: type) -> None:
    error = classify_status("up", status, b'{"message": "m"}', "application/json", None)
    assert type(error) is kind
    assert error.status == status


def test_classified_error_keeps_retry_after_and_prints_without_secrets() -> None:
    error = classify_status(
        "twilio", 429, b'{"code": 20429, "message": "Too many requests"}', "application/json", 2.0
    )
    assert error.retry_after == 2.0
    assert str(error) == "twilio: HTTP 429 (code 20429) Too many requests"


def test_an_html_error_page_is_named_by_its_title_not_copied() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>502 Bad  Gateway</title><style>x{}</style></head><body>nginx</body></html>"
    parsed = parse_error_body(page, "text/html; charset=utf-8")
    assert parsed.message == "an HTML page (502 Bad Gateway)"
    assert parse_error_body(b"<html><body>oops</body></html>", None).message == "an HTML page without a title"
