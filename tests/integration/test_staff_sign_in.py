"""The staff pages' real sign-in, in a real browser: Chromium opens /personel/, is sent to the
local Keycloak (authorization code + PKCE), signs in there as a directorate's staff member of
deploy/local/users.json (password demo) and lands on /personel/ as that person; logout ends our
session and Keycloak's (the next /personel/ asks Keycloak for the password again).

Runs against the stack `make up` starts, whose API's OIDC_ISSUER is the local realm's issuer.
Screenshots go to <DATA_DIR>/screenshots/staff-sign-in-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from deploy.local import keycloak
from tests.browser import chromium, screenshots
from tests.conftest import API_URL

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser(stack: None) -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture()
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(locale="tr-TR", timezone_id="Europe/Istanbul")
    opened.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    try:
        yield opened
    finally:
        opened.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"staff-sign-in-{name}.png"), full_page=True)


def _at_keycloak_login(page: Page, issuer: str) -> dict[str, list[str]]:
    page.wait_for_url(f"{issuer}/**")
    expect(page.locator("#username")).to_be_visible()
    return parse_qs(urlsplit(page.url).query)


def test_a_directorate_staff_member_signs_in_through_keycloak_and_out_again(context: BrowserContext) -> None:
    issuer = keycloak.Instance.from_env().issuer
    page = context.new_page()
    page.goto(f"{API_URL}/personel/")
    query = _at_keycloak_login(page, issuer)
    assert query["client_id"] == ["belediye-personel"]
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{API_URL}/personel/giris/donus"]
    _shot(page, "keycloak")

    page.fill("#username", "yol.personel")
    page.fill("#password", "demo")
    page.click("#kc-login")
    page.wait_for_url(f"{API_URL}/personel/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hoş geldiniz, Yol Bakım Personeli")
    expect(page.locator(".facts")).to_contain_text("Müdürlük personeli")
    expect(page.locator(".facts")).to_contain_text("YOL")
    _shot(page, "home")
    cookie = next(c for c in context.cookies(API_URL + "/personel/") if c["name"] == "bht_personel")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/personel"

    page.get_by_role("button", name="Çıkış yap").click()
    # Our session is gone and so is Keycloak's: back at /personel/, the password is asked again.
    _at_keycloak_login(page, issuer)
    _shot(page, "after-logout")
    stale = httpx.get(
        f"{API_URL}/personel/", cookies={"bht_personel": cookie["value"]}, follow_redirects=False, timeout=10
    )
    assert stale.status_code == 303 and stale.headers["location"].startswith("/personel/giris")
