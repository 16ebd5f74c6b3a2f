"""Single sign-on to Operaton's Tasklist through Keycloak, in a real browser (headless Chromium).

A directorate's staff member opens Tasklist, is sent to Keycloak's sign-in page, signs in there
and lands in Tasklist as themselves. The engine's authentication is the token's: the engine user
is created at the first sign-in (without a password) and the user's groups are the token's
`groups` claim, not the engine's memberships (the test removes the engine user beforehand, so it
has none). The task of the user's directorate is there, the other directorate's is not. Signing
out ends the engine's session and Keycloak's: Tasklist asks for the password again. The
break-glass page /login admits the engine administrator (password) and nobody else.

Runs against the stack `make up` starts (the engine with single sign-on, Spring profile `oidc`, and
its Keycloak). Addresses from the environment, for an engine and Keycloak beside a running stack:
    ENGINE_REST_URL=http://127.0.0.1:28080/engine-rest KEYCLOAK_PORT=28070 \
        pytest tests/integration/test_engine_sso.py
Screenshots go to <DATA_DIR>/screenshots/engine-sso-*.png.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from deploy.local import keycloak
from deploy.local.engine_identity import ensure_identity
from services.config import get_settings
from services.operaton import Operaton
from services.process_engine import EngineRefused
from tests.browser import assert_accessible, chromium, screenshots
from tests.integration.conftest import master_realm_token, staff_token
from tests.integration.tasklist import poll

WAIT_MS = 60_000  # a loaded 2-core machine: an AngularJS app, Keycloak and the engine
USER = "park.personel"  # deploy/local/users.json: Park ve Bahçeler, directorate staff
USER_NAME = "Park ve Bahçeler Personeli"
OWN_GROUP, OTHER_GROUP = "mudurluk-park", "mudurluk-yol"


def _engine_url() -> str:
    return get_settings().engine_rest_url.removesuffix("/").removesuffix("/engine-rest")


ENGINE = _engine_url()
TASKLIST = f"{ENGINE}/operaton/app/tasklist/default/"
ISSUER = keycloak.Instance.from_env().issuer


def _diagram(process: str) -> bytes:
    """Two user tasks, one for each directorate's staff group."""
    tasks = "".join(
        f'<bpmn:userTask id="t_{group.replace("-", "_")}" name="SSO denemesi {group}" '
        f'camunda:candidateGroups="{group}" />'
        for group in (OWN_GROUP, OTHER_GROUP)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="belediye">'
        f'<bpmn:process id="{process}" isExecutable="true" camunda:historyTimeToLive="P1D">'
        '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="g" />'
        f'<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g" />{tasks}'
        '<bpmn:sequenceFlow id="f1" sourceRef="g" targetRef="t_mudurluk_park" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="t_mudurluk_yol" />'
        "</bpmn:process></bpmn:definitions>"
    ).encode()


@pytest.fixture(scope="module")
def engine() -> Iterator[Operaton]:
    settings = get_settings()
    with Operaton(
        settings.engine_rest_url, settings.engine_username, settings.engine_password, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
def sso_engine(engine: Operaton) -> str:
    """The engine answers Tasklist with the provider's sign-in, not its own password form."""
    response = httpx.get(TASKLIST, follow_redirects=False, timeout=10)
    # The page that keeps the address's fragment and goes on to /oauth2/authorization/oidc.
    assert response.status_code == 401, f"{TASKLIST}: {response.status_code}; is the profile oidc on?"
    assert "location.replace('/oauth2/authorization/oidc')" in response.text, response.text
    discovery = httpx.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10)
    assert discovery.status_code == 200, f"no Keycloak at {ISSUER}"
    return ENGINE


@pytest.fixture()
def instance(engine: Operaton, sso_engine: str) -> Iterator[str]:
    """One instance with a task for the user's group and one for another directorate's."""
    process = f"sso-{uuid.uuid4().hex[:8]}"
    deployment = engine.json(
        "POST",
        "/deployment/create",
        data={"deployment-name": process, "enable-duplicate-filtering": "false"},
        files=[("d.bpmn", ("d.bpmn", _diagram(process), "application/octet-stream"))],
    )["id"]
    try:
        started = engine.json("POST", f"/process-definition/key/{process}/start", json={})
        yield str(started["id"])
    finally:
        engine.call("DELETE", f"/deployment/{deployment}", params={"cascade": "true"})


@pytest.fixture()
def unknown_to_the_engine(engine: Operaton, sso_engine: str) -> Iterator[str]:
    """The user is not in the engine (no profile, no memberships, no password) until they sign in;
    afterwards the sample user is as `make up` makes it (password demo, its groups)."""
    _delete_user(engine, USER)
    try:
        yield USER
    finally:
        _delete_user(engine, USER)
        ensure_identity(engine)


def _delete_user(engine: Operaton, user: str) -> None:
    try:
        engine.call("DELETE", f"/user/{user}")
    except EngineRefused as refused:
        if refused.status != 404:
            raise


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="tr-TR", timezone_id="Europe/Istanbul"
    )
    context.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _keycloak_sign_in_page(page: Page) -> None:
    expect(page.locator("#username")).to_be_visible()
    expect(page.locator("#password")).to_be_visible()
    assert page.url.startswith(f"{ISSUER}/protocol/openid-connect/auth"), page.url


def _web_app_api(page: Page, path: str) -> httpx.Response | None:
    """A GET of the web apps' own engine API with the browser's session, as Tasklist makes it."""
    response = page.request.get(f"{ENGINE}/operaton/api/{path}", max_redirects=0)
    return httpx.Response(response.status, content=response.body(), headers=response.headers)


def test_staff_sign_in_to_tasklist_at_keycloak_with_the_tokens_groups_and_sign_out_of_both(
    engine: Operaton, instance: str, unknown_to_the_engine: str, page: Page
) -> None:
    shots = screenshots()
    own, other = (
        {t.name: t.id for t in engine.tasks(processInstanceId=instance)}[f"SSO denemesi {g}"]
        for g in (OWN_GROUP, OTHER_GROUP)
    )

    # A mail's link to the task: Tasklist sends the browser to Keycloak's sign-in page.
    page.goto(f"{TASKLIST}#/?task={own}")
    _keycloak_sign_in_page(page)
    page.screenshot(path=str(shots / "engine-sso-keycloak-giris.png"), full_page=True)
    page.locator("#username").fill(USER)
    page.locator("#password").fill("demo")
    page.locator("#kc-login").click()

    # Back in Tasklist as that person, at the task the link named: the header names them.
    page.wait_for_url(f"{TASKLIST}**")
    expect(page.get_by_text(USER_NAME).first).to_be_visible()
    expect(page.locator(".task-details h2.task")).to_contain_text(f"SSO denemesi {OWN_GROUP}")
    assert f"task={own}" in page.url, page.url

    # The engine's authentication is the token's: the user and Tasklist's access, which only the
    # groups of the token give (the engine user has no memberships).
    me = _web_app_api(page, "admin/auth/user/default")
    assert me is not None and me.status_code == 200, me
    assert me.json()["userId"] == USER
    assert "tasklist" in me.json()["authorizedApps"]
    assert engine.json("GET", "/user", params={"memberOfGroup": OWN_GROUP, "id": USER}) == []
    # The first sign-in made the engine user from the token, without a password.
    profile = engine.json("GET", f"/user/{USER}/profile")
    assert (f"{profile['firstName']} {profile['lastName']}", profile["email"]) == (
        USER_NAME,
        f"{USER}@belediye.local",
    )
    with_password = httpx.get(f"{ENGINE}/engine-rest/task/count", auth=(USER, "demo"), timeout=10)
    assert with_password.status_code == 401

    # Candidate groups follow the token: the own directorate's task, not the other one's.
    visible = _web_app_api(page, f"engine/engine/default/task?processInstanceId={instance}")
    assert visible is not None and visible.status_code == 200, visible
    assert {t["id"] for t in visible.json()} == {own}
    assert other not in {t["id"] for t in visible.json()}
    page.screenshot(path=str(shots / "engine-sso-tasklist.png"), full_page=True)

    # The same sign-in opens the other web apps (single sign-on; Welcome lists what is allowed).
    page.goto(f"{ENGINE}/operaton/app/welcome/default/")
    expect(page.get_by_text(USER_NAME).first).to_be_visible()
    assert page.url.startswith(f"{ENGINE}/operaton/app/welcome/default/"), page.url

    # Sign out from the header: Keycloak's session ends too, so Tasklist asks for the password.
    page.goto(TASKLIST)
    expect(page.get_by_text(USER_NAME).first).to_be_visible()
    visited: list[str] = []
    page.on(
        "request", lambda request: visited.append(request.url) if request.is_navigation_request() else None
    )
    page.locator("li.account .dropdown-toggle").first.click()
    page.locator("li.logout a").first.click()
    _keycloak_sign_in_page(page)
    # RP-initiated logout: Keycloak's end_session_endpoint with the ID token, back to Tasklist,
    # which (no session any more, here nor at Keycloak) sends the browser to the sign-in page.
    (logout,) = [url for url in visited if url.startswith(f"{ISSUER}/protocol/openid-connect/logout")]
    assert "id_token_hint=" in logout, logout
    assert f"post_logout_redirect_uri={TASKLIST}" in unquote(logout), logout
    assert TASKLIST in visited, visited
    page.screenshot(path=str(shots / "engine-sso-cikis-sonrasi.png"), full_page=True)
    after = _web_app_api(page, "admin/auth/user/default")
    assert after is not None and after.status_code == 401, after
    page.goto(TASKLIST)
    _keycloak_sign_in_page(page)


def test_an_administrator_of_the_directory_opens_cockpit_and_admin(sso_engine: str, page: Page) -> None:
    """`yonetici` is in the realm's group operaton-admin: Cockpit and Admin open without a password
    of the engine's, the groups of the token give the administrators' authorizations."""
    page.goto(f"{ENGINE}/operaton/app/cockpit/default/")
    _keycloak_sign_in_page(page)
    page.locator("#username").fill("yonetici")
    page.locator("#password").fill("demo")
    page.locator("#kc-login").click()
    page.wait_for_url(f"{ENGINE}/operaton/app/cockpit/default/**")
    expect(page.get_by_text("Sistem Yöneticisi").first).to_be_visible()
    me = _web_app_api(page, "admin/auth/user/default")
    assert me is not None and me.status_code == 200, me
    assert me.json()["userId"] == "yonetici"
    assert {"admin", "cockpit", "tasklist"} <= set(me.json()["authorizedApps"])
    deployments = _web_app_api(page, "engine/engine/default/deployment/count")
    assert deployments is not None and deployments.status_code == 200, deployments
    page.screenshot(path=str(screenshots() / "engine-sso-cockpit.png"), full_page=True)
    page.goto(f"{ENGINE}/operaton/app/admin/default/#/users")
    expect(page.locator("table").first).to_be_visible()  # the user list: an administrator's view
    page.screenshot(path=str(screenshots() / "engine-sso-admin.png"), full_page=True)


@pytest.fixture()
def engine_user_with_password(engine: Operaton, sso_engine: str) -> Iterator[tuple[str, str]]:
    """An engine user outside operaton-admin who does have an engine password."""
    user, password = f"gecici-{uuid.uuid4().hex[:8]}", "Gecici-Parola-1"
    engine.call(
        "POST",
        "/user/create",
        json={
            "profile": {"id": user, "firstName": "Geçici", "lastName": "Kullanıcı"},
            "credentials": {"password": password},
        },
    )
    engine.call("PUT", f"/group/mudurluk-yol/members/{user}")
    try:
        yield user, password
    finally:
        _delete_user(engine, user)


def test_break_glass_sign_in_is_for_the_engine_administrator_only(
    sso_engine: str, page: Page, engine_user_with_password: tuple[str, str]
) -> None:
    """/login: the engine's password, for members of operaton-admin (demo) when Keycloak is away;
    a Turkish page of ours (not Spring's generated English one)."""
    page.goto(f"{ENGINE}/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Yedek yönetici girişi")
    expect(page.get_by_role("link", name="kurumsal girişle")).to_have_attribute(
        "href", "/oauth2/authorization/oidc"
    )
    assert_accessible(page, "break-glass")
    page.screenshot(path=str(screenshots() / "engine-sso-yedek-giris.png"), full_page=True)
    user, password = engine_user_with_password
    page.get_by_label("Kullanıcı adı").fill(user)  # a right engine password, but not an administrator
    page.get_by_label("Parola").fill(password)
    page.get_by_role("button", name="Giriş yap").click()
    page.wait_for_url(f"{ENGINE}/login?error")
    expect(page.get_by_role("alert")).to_contain_text("motor yöneticisi değil")

    page.locator("input[name=username]").fill("demo")
    page.locator("input[name=password]").fill("demo")
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{ENGINE}/operaton/app/**")  # signed in: on to the web apps
    page.goto(f"{ENGINE}/operaton/app/admin/default/")
    expect(page.get_by_text("Sistem Yöneticisi").first).to_be_visible()  # demo (application.yaml)
    me = poll(
        lambda: r if (r := _web_app_api(page, "admin/auth/user/default")) and r.status_code == 200 else None,
        what="the break-glass session",
        timeout=10,
    )
    assert me.json()["userId"] == "demo"
    assert {"admin", "cockpit", "tasklist"} <= set(me.json()["authorizedApps"])
    page.screenshot(path=str(screenshots() / "engine-sso-yedek-yonetici.png"), full_page=True)

    # Operaton's own password endpoint stays closed with single sign-on.
    closed = httpx.post(
        f"{ENGINE}/operaton/api/admin/auth/user/default/login/admin",
        data={"username": "demo", "password": "demo"},
        timeout=10,
    )
    assert closed.status_code in (401, 403), closed.status_code


def test_staff_call_the_engine_rest_api_with_their_token_and_have_no_engine_password(
    engine: Operaton, instance: str, sso_engine: str
) -> None:
    """Scripts and tests act as a member of staff with the provider's token: the engine's user and
    groups come from its claims, as in Tasklist. No sample user of the directory has an engine
    password; `demo` (break-glass) keeps its own."""
    rest = f"{ENGINE}/engine-rest"
    for user in ("yol.personel", "park.personel", "yol.mudur", "eys.uzman", "yonetici"):
        refused = httpx.get(f"{rest}/task/count", auth=(user, "demo"), timeout=10)
        assert refused.status_code == 401, user
    assert httpx.get(f"{rest}/task/count", auth=("demo", "demo"), timeout=10).status_code == 200

    token = staff_token(USER)
    as_staff = {"Authorization": f"Bearer {token}"}
    tasks = httpx.get(f"{rest}/task", params={"processInstanceId": instance}, headers=as_staff, timeout=10)
    assert tasks.status_code == 200, tasks.text
    # Candidate groups from the token: the own directorate's task only.
    assert [t["name"] for t in tasks.json()] == [f"SSO denemesi {OWN_GROUP}"]
    (own,) = tasks.json()
    claim = f"{rest}/task/{own['id']}/claim"
    claimed = httpx.post(claim, json={"userId": USER}, headers=as_staff, timeout=10)
    assert claimed.status_code == 204, claimed.text
    assert engine.tasks(taskId=own["id"])[0].assignee == USER

    # A token the engine must not take: tampered, or of another realm (Keycloak's master realm).
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[::-1]}"
    for wrong in (tampered, master_realm_token(), "kisa"):
        answer = httpx.get(f"{rest}/task/count", headers={"Authorization": f"Bearer {wrong}"}, timeout=10)
        assert answer.status_code == 401, answer.text
        assert "Bearer" in answer.headers.get_list("www-authenticate")[-1]
