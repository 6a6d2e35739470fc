"""Signing in and out of the dashboard: the token goes in a form body and stays on the
server (never in a URL, a page, a cookie or the log), a wrong token gets the form again with
a plain message, an expired one leads back to the form, and every POST needs its CSRF token
and this site's origin."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from services.common.clock import ManualClock
from tests.browser.conftest import WAIT_MS, Dashboard, token_of
from tests.service.gateway.helpers import Recorder

pytestmark = pytest.mark.browser
C = "netnet-2021"


async def sign_in(dashboard: Dashboard, token: str) -> Page:
    page = await (await dashboard.browser.new_context()).new_page()
    await page.goto(dashboard.url)  # no session: the form
    assert page.url == dashboard.url + "login"
    await page.fill("#token", token)
    await page.click("#login button[type=submit]")
    return page


async def test_token_stays_on_the_server_and_a_wrong_one_is_refused_plainly(
    dashboard: Dashboard, clock: ManualClock, capfd: pytest.CaptureFixture[str]
) -> None:
    await Recorder(dashboard.stack, dashboard.tokens, clock).campaign(C, "Net Net 2021")
    wrong = await sign_in(dashboard, "not-a-token")
    await expect(wrong.locator("#login-error")).to_have_text("令牌无效或已过期。")
    assert wrong.url == dashboard.url + "login"
    assert await wrong.input_value("#token") == ""  # the token is not given back

    token = token_of(dashboard.tokens("office", "analyst"))
    page = await sign_in(dashboard, token)
    await page.wait_for_url(f"**/campaigns/{C}", timeout=WAIT_MS)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["netnet_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/"
    assert not session["secure"]  # served over plain HTTP here; over HTTPS it is Secure
    assert token not in session["value"] and len(session["value"]) >= 40
    html = await page.content()
    assert token not in html and session["value"] not in html
    assert token not in page.url
    logged = capfd.readouterr()
    assert token not in logged.out + logged.err
    assert session["value"] not in logged.out + logged.err
    assert '"path": "/login"' in logged.out or "path=/login" in logged.out  # the access log

    await page.click("#sign-out")
    await page.wait_for_url("**/login", timeout=WAIT_MS)
    await page.goto(dashboard.url + f"campaigns/{C}")
    assert page.url == dashboard.url + "login"  # the session is gone from the server


async def test_every_post_needs_the_csrf_token_and_this_origin(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await Recorder(dashboard.stack, dashboard.tokens, clock).campaign(C, "Net Net 2021")
    page = await sign_in(dashboard, token_of(dashboard.tokens("office", "analyst")))
    await page.wait_for_url(f"**/campaigns/{C}", timeout=WAIT_MS)
    csrf = await page.locator("header input[name=csrf]").input_value()
    origin = dashboard.url.rstrip("/")
    logout = dashboard.url + "logout"
    refused: list[tuple[dict[str, str | float | bool], dict[str, str]]] = [
        ({}, {"Origin": origin}),  # no CSRF token
        ({"csrf": "guessed"}, {"Origin": origin}),
        ({"csrf": csrf}, {"Origin": "http://evil.example"}),
        ({"csrf": csrf}, {}),  # neither Origin nor Referer
    ]
    for form, headers in refused:
        reply = await page.request.post(logout, form=form, headers=headers, max_redirects=0)
        assert reply.status == 403, (form, headers)
    assert (await page.request.get(dashboard.url + f"campaigns/{C}")).ok  # still signed in
    # The login form's own double-submit token: without the cookie's value, refused.
    login = await page.request.post(
        dashboard.url + "login",
        form={"token": token_of(dashboard.tokens("office")), "csrf": "guessed"},
        headers={"Origin": origin},
        max_redirects=0,
    )
    assert login.status == 403
    reply = await page.request.post(
        logout, form={"csrf": csrf}, headers={"Referer": dashboard.url}, max_redirects=0
    )
    assert reply.status == 303 and reply.headers["location"] == "/login"


async def test_an_expired_token_leads_back_to_the_form(
    dashboard: Dashboard, clock: ManualClock
) -> None:
    await Recorder(dashboard.stack, dashboard.tokens, clock).campaign(C, "Net Net 2021")
    page = await sign_in(dashboard, token_of(dashboard.tokens("office", "analyst", ttl=3)))
    await page.wait_for_url(f"**/campaigns/{C}", timeout=WAIT_MS)
    # The open overview's live stream ends with the token, and the page goes to the form.
    await page.wait_for_url("**/login", timeout=WAIT_MS + 3000)
    await page.goto(dashboard.url + f"campaigns/{C}")
    assert page.url == dashboard.url + "login"
