"""The dashboard's frame: sessions, CSRF, login, read-only, headers, vendored assets."""

from __future__ import annotations

from starlette.testclient import TestClient
from ui_forms import csrf_of

import prodml
from prodml.client import Client


def test_the_session_cookie_is_httponly_and_samesite_strict(dashboard: TestClient) -> None:
    response = dashboard.get("/login")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["server-timing"].startswith("app;dur=")


def test_a_post_without_the_session_csrf_token_is_refused(dashboard: TestClient) -> None:
    dashboard.get("/login")
    response = dashboard.post("/login", data={"token": "x", "csrf": "forged"})
    assert response.status_code == 403
    assert "CSRF" in response.text and "Traceback" not in response.text


def test_login_with_a_real_token_names_the_user_and_renews_the_session(
    sqlite_client: Client, dashboard: TestClient
) -> None:
    token = prodml.create_token("alice", "deployer", client=sqlite_client)
    page = dashboard.get("/login").text
    before = dashboard.cookies.get("prodml_session")
    wrong = dashboard.post("/login", data={"token": "pml_nope", "csrf": csrf_of(page)})
    assert wrong.status_code == 401 and "Unknown or revoked token" in wrong.text
    done = dashboard.post(
        "/login", data={"token": token, "csrf": csrf_of(page), "next": "//evil.example/x"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert dashboard.cookies.get("prodml_session") not in (None, before)
    assert "alice (deployer)" in dashboard.get("/login").text


def test_unknown_pages_are_a_404_page_not_a_traceback(dashboard: TestClient) -> None:
    response = dashboard.get("/no/such/page")
    assert response.status_code == 404 and "No such page." in response.text


def test_the_chart_and_htmx_libraries_are_served_from_the_package(
    dashboard: TestClient,
) -> None:
    for name in ("htmx.min.js", "vega.min.js", "vega-lite.min.js", "vega-embed.min.js"):
        response = dashboard.get(f"/static/vendor/{name}")
        assert response.status_code == 200 and len(response.content) > 40_000, name
