"""The staff pages (/personel) over HTTP with the in-process app. No identity provider here: a
session is made directly through services/staff_sessions.py, as the sign-in would make it (the
real sign-in through Keycloak is tests/integration/test_staff_sign_in.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select, update

from services import audit, catalogue, difs, nonconformities, staff_sessions
from services import citizen_requests as requests_service
from services.access import Principal, Role
from services.api.app import create_app
from services.bootstrap import Container
from services.models import AuditInboxLine, CitizenRequest, DifAction, Directorate, Office, StaffSession
from services.web.staff import COOKIE, PAGE_SIZE, limits, state_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture()
def app_client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=True, follow_redirects=False) as client:
        yield client


def sign_in(
    container: Container,
    client: TestClient,
    username: str = "temizlik.personel",
    roles: tuple[Role, ...] = (Role.DIRECTORATE_STAFF,),
    directorate: str | None = "TEMIZLIK",
    *,
    now: datetime | None = None,
) -> str:
    principal = Principal.staff(username, set(roles), directorate)
    session_id = staff_sessions.create(
        container.uow, principal, display_name=f"Ad {username}", id_token="id-token-of-" + username, now=now
    )
    client.cookies.set(COOKIE, session_id)
    return session_id


def csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, page
    return match.group(1)


def dif_with_actions(container: Container) -> tuple[uuid.UUID, list[uuid.UUID]]:
    catalogue.load_seed_if_empty(container.uow)
    nc, _ = nonconformities.report(
        container.uow,
        nonconformities.NewNonconformity(
            directorate_code="TEMIZLIK",
            description="Çöp konteynerleri İğdır caddesinde üç gündür boşaltılmadı.",
            source="denetim",
            found_by="denetci.ayşe",
            reference=f"DNT-{uuid.uuid4()}",
        ),
    )
    nonconformities.record(container.uow, nonconformity_id=nc.id, request_id=None, process_instance_id=None)  # type: ignore[arg-type]
    dif = nonconformities.open_finding(container.uow, nonconformity_id=nc.id)
    due = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    actions = difs.record_plan(
        container.uow,
        dif_id=dif.id,
        root_cause="Rota planı güncel değil.",
        actions=[
            {
                "description": "Rota güncellensin.",
                "responsible": "ali",
                "responsibleEmail": "a@b.local",
                "dueDate": due,
            },
            {
                "description": "Ekip eğitimi.",
                "responsible": "ayşe",
                "responsibleEmail": "c@d.local",
                "dueDate": due,
            },
        ],
        actor="mudur.temizlik",
    )
    return dif.id, [a.id for a in actions]


def upload(client: TestClient, url: str, token: str, *files: tuple[str, bytes, str], **headers: str) -> Any:
    return client.post(
        url, data={"csrf": token}, files=[("dosya", f) for f in files], headers=headers or None
    )


# ---------------------------------------------------------------- sessions


def test_without_a_session_the_pages_send_to_the_sign_in_and_keep_where_one_was_going(
    app_client: TestClient,
) -> None:
    answer = app_client.get("/personel/talepler?durum=alindi")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/personel/giris?sonra=%2Fpersonel%2Ftalepler%3Fdurum%3Dalindi"
    refused = app_client.post("/personel/cikis", data={"csrf": "x"})
    assert refused.status_code == 401 and "Oturumunuz sona erdi" in refused.text


def test_the_home_page_names_the_user_their_roles_and_links_in_turkish(
    app_client: TestClient, container: Container
) -> None:
    session_id = sign_in(container, app_client)
    page = app_client.get("/personel/")
    assert page.status_code == 200
    assert '<html lang="tr">' in page.text
    assert "Hoş geldiniz, Ad temizlik.personel" in page.text and "Müdürlük personeli" in page.text
    with container.uow() as uow:
        own = uow.session.get(Directorate, "TEMIZLIK")
        assert own is not None
        assert f"<dt>Müdürlüğünüz</dt><dd>{escape(own.name)} (TEMIZLIK)</dd>" in page.text
    assert 'href="/personel/talepler"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    # Logout's POST is answered with a redirect to the provider: form-action must allow it.
    assert f"form-action 'self' {container.settings.oidc_issuer}" in policy
    assert page.headers["cache-control"] == "no-store"
    with container.uow() as uow:
        stored = uow.session.get(StaffSession, hashlib.sha256(session_id.encode()).hexdigest())
        assert stored is not None and stored.username == "temizlik.personel"
        assert uow.session.scalar(select(StaffSession).where(StaffSession.id_hash == session_id)) is None


def test_the_session_ends_after_the_idle_timeout_and_after_the_absolute_timeout(
    app_client: TestClient, container: Container
) -> None:
    limit = limits(container.settings)
    now = datetime.now(UTC)
    # Idle: last used longer ago than STAFF_SESSION_IDLE_MINUTES.
    sign_in(container, app_client, now=now - limit.idle - timedelta(seconds=1))
    assert app_client.get("/personel/").status_code == 303
    # Used a moment ago, but signed in longer ago than STAFF_SESSION_MAX_HOURS.
    session_id = sign_in(container, app_client, now=now - limit.absolute - timedelta(seconds=1))
    with container.uow() as uow:
        uow.session.execute(
            update(StaffSession)
            .where(StaffSession.id_hash == staff_sessions.digest(session_id))
            .values(last_seen_at=now - timedelta(minutes=1))
        )
        uow.commit()
    assert app_client.get("/personel/").status_code == 303
    with container.uow() as uow:
        assert uow.session.get(StaffSession, staff_sessions.digest(session_id)) is None
    # Each request starts the idle time again.
    sign_in(container, app_client, now=now - limit.idle + timedelta(minutes=1))
    assert app_client.get("/personel/").status_code == 200
    assert app_client.get("/personel/").status_code == 200


def test_a_post_without_the_sessions_csrf_token_is_refused_with_a_turkish_page(
    app_client: TestClient, container: Container
) -> None:
    dif_id, actions = dif_with_actions(container)
    sign_in(container, app_client)
    url = f"/personel/dif/{dif_id}/eylem/{actions[0]}/kanit"
    for token in ("", "0" * 64):
        refused = upload(app_client, url, token, ("kanit.pdf", PDF, "application/pdf"))
        assert refused.status_code == 403 and "Form doğrulanamadı" in refused.text
    # Another session's token does not open this one.
    other = TestClient(app_client.app)
    foreign = csrf(other_page(container, other))
    assert upload(app_client, url, foreign, ("kanit.pdf", PDF, "application/pdf")).status_code == 403
    assert "kanit.pdf" not in app_client.get(url).text
    too_many = [("dosya", (f"{n}.pdf", PDF, "application/pdf")) for n in range(11)]
    answer = app_client.post(url, data={"csrf": csrf(app_client.get(url).text)}, files=too_many)
    assert answer.status_code == 400 and "en çok 10 dosya" in answer.text


def other_page(container: Container, client: TestClient) -> str:
    sign_in(container, client, "temizlik.mudur", (Role.DIRECTOR,))
    return str(client.get("/personel/").text)


def test_logout_ends_the_session_and_goes_to_the_providers_end_session(
    app_client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id = sign_in(container, app_client)
    token = csrf(app_client.get("/personel/").text)
    discovery = {"end_session_endpoint": "http://kimlik.local/logout", "authorization_endpoint": "x"}
    state = state_of(app_client.app)
    monkeypatch.setattr(state.oidc, "discovery", lambda: discovery)
    answer = app_client.post("/personel/cikis", data={"csrf": token})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("http://kimlik.local/logout?")
    assert "id_token_hint=id-token-of-temizlik.personel" in answer.headers["location"]
    assert (
        "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fpersonel%2F" in answer.headers["location"]
    )
    with container.uow() as uow:
        assert uow.session.get(StaffSession, staff_sessions.digest(session_id)) is None
    app_client.cookies.set(COOKIE, session_id)
    assert app_client.get("/personel/").status_code == 303


# ---------------------------------------------------------------- the DİF file and its evidence


def test_the_dif_file_shows_finding_root_cause_actions_history_and_the_pdf(
    app_client: TestClient, container: Container
) -> None:
    dif_id, actions = dif_with_actions(container)
    with container.uow() as uow:
        office = uow.session.scalars(select(Office).order_by(Office.code)).first()
        directorate = uow.session.get(Directorate, "TEMIZLIK")
        assert office is not None and directorate is not None
        for kind, level in (("eylem-hatirlatma", "sorumlu"), ("onay", office.code)):
            difs.add_escalation(
                uow.session,
                dif_id=dif_id,
                action_id=None,
                kind=kind,
                level=level,
                recipient="yetkili@belediye.local",
                key=f"{kind}-{uuid.uuid4()}",
            )
        uow.commit()
    sign_in(container, app_client)
    page = app_client.get(f"/personel/dif/{dif_id}")
    assert page.status_code == 200, page.text
    assert f" · {escape(directorate.name)} · açılış" in page.text
    assert "<td>Eylem hatırlatması</td><td>Eylem sorumlusu</td>" in page.text
    assert f"<td>Bekleyen onay</td><td>{escape(office.name)}</td>" in page.text
    for text in ("Bulgu", "Çöp konteynerleri", "Rota planı güncel değil.", "Ekip eğitimi.", "ayşe", "Geçmiş"):
        assert text in page.text
    assert f"/personel/dif/{dif_id}/eylem/{actions[1]}/kanit" in page.text
    history = page.text[page.text.index("Geçmiş") :]
    assert "<td>Eylemler planlandı</td>" in history and "<td>planlandi</td>" not in history
    pdf = app_client.get(f"/personel/dif/{dif_id}/rapor.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


def test_another_directorates_user_is_refused_the_dif_file_and_the_upload_naming_the_permission(
    app_client: TestClient, container: Container
) -> None:
    dif_id, actions = dif_with_actions(container)
    sign_in(container, app_client, "yol.personel", (Role.DIRECTORATE_STAFF,), "YOL")
    token = csrf(app_client.get("/personel/").text)
    page = app_client.get(f"/personel/dif/{dif_id}")
    assert page.status_code == 403
    assert "Bu işlem için yetkiniz yok" in page.text and "difs:read-all" in page.text
    url = f"/personel/dif/{dif_id}/eylem/{actions[0]}/kanit"
    assert app_client.get(url).status_code == 403
    refused = upload(app_client, url, token, ("kanit.pdf", PDF, "application/pdf"))
    assert refused.status_code == 403
    assert "Eksik yetki" in refused.text and "difs:read-all" in refused.text
    # Public Relations may read the file but not add evidence: the page says which permission.
    sign_in(container, app_client, "halkla.iliskiler", (Role.PUBLIC_RELATIONS,), "HALKLA")
    readable = app_client.get(url)
    assert readable.status_code == 200 and "evidence:write" in readable.text
    assert 'type="file"' not in readable.text


def test_a_pdf_upload_is_listed_with_its_sha256_and_a_wrong_type_is_refused_in_turkish(
    app_client: TestClient, container: Container
) -> None:
    dif_id, actions = dif_with_actions(container)
    sign_in(container, app_client)
    url = f"/personel/dif/{dif_id}/eylem/{actions[0]}/kanit"
    page = app_client.get(url)
    assert page.status_code == 200 and "multiple" in page.text and "/static/staff-upload.js" in page.text
    answer = upload(
        app_client,
        url,
        csrf(page.text),
        ("tutanak.pdf", PDF, "application/pdf"),
        ("program.exe", b"MZ\x90\x00", "application/x-msdownload"),
        ("sahte.pdf", b"MZ\x90\x00", "application/pdf"),
    )
    assert answer.status_code == 422  # one or more refused: each file answered on its own
    digest = hashlib.sha256(PDF).hexdigest()
    assert "tutanak.pdf</strong>: Yüklendi." in answer.text and digest in answer.text
    assert "Bu dosya türü kabul edilmiyor (application/x-msdownload)" in answer.text
    assert "Dosyanın içeriği türüyle uyuşmuyor: PDF olarak gönderildi" in answer.text
    listed = app_client.get(url).text
    assert "tutanak.pdf" in listed and digest in listed and "program.exe" not in listed
    assert f"<td>{len(PDF)} bayt</td>" in listed  # a file under 1 KB is not "0 KB"
    download = re.search(rf'href="(/personel/dif/{dif_id}/kanit/[0-9a-f-]+)"', listed)
    assert download
    got = app_client.get(download.group(1))
    assert got.status_code == 200 and got.content == PDF and got.headers["x-content-sha256"] == digest
    # The page's script sends one file a request and reads the answer as JSON.
    token = csrf(listed)
    json_answer = upload(
        app_client,
        url,
        token,
        ("foto.png", b"\x89PNG\r\n\x1a\n....", "image/png"),
        Accept="application/json",
        **{"X-CSRF-Token": token},
    )
    assert json_answer.status_code == 201
    assert json_answer.json()["results"][0]["ok"] is True


def test_evidence_is_taken_back_while_the_action_is_open_and_never_once_it_is_closed(
    app_client: TestClient, container: Container
) -> None:
    dif_id, actions = dif_with_actions(container)
    sign_in(container, app_client)
    url = f"/personel/dif/{dif_id}/eylem/{actions[0]}/kanit"
    token = csrf(app_client.get(url).text)
    upload(
        app_client,
        url,
        token,
        ("yanlis.pdf", PDF, "application/pdf"),
        ("dogru.pdf", PDF + b" ", "application/pdf"),
    )
    page = app_client.get(url).text
    take_back = re.findall(rf'action="({re.escape(url)}/[0-9a-f-]+/geri-al)"', page)
    assert len(take_back) == 2
    answer = app_client.post(take_back[0], data={"csrf": token})
    assert answer.status_code == 303
    after = app_client.get(answer.headers["location"]).text
    assert "yanlis.pdf” geri alındı." in after and "dogru.pdf" in after
    difs.close_action(container.uow, action_id=actions[0], note="Yapıldı.", actor="ali")
    closed = app_client.get(url).text
    assert "geri-al" not in closed and 'type="file"' not in closed and "Tamamlandı" in closed
    remaining = re.findall(rf'href="/personel/dif/{dif_id}/kanit/([0-9a-f-]+)"', closed)
    refused = app_client.post(f"{url}/{remaining[0]}/geri-al", data={"csrf": token})
    assert refused.status_code == 409 and "kaydın parçası" in refused.text
    late = upload(app_client, url, token, ("gec.pdf", PDF, "application/pdf"))
    assert late.status_code == 422 and "kaydın parçası" in late.text
    with container.uow() as uow:
        assert uow.session.get(DifAction, actions[0]).status == "tamamlandi"  # type: ignore[union-attr]


# ---------------------------------------------------------------- requests


def submitted(container: Container, directorate: str = "YOL") -> CitizenRequest:
    request, _ = requests_service.submit(
        container.uow,
        requests_service.Intake(
            channel="cagri-merkezi",
            channel_reference=f"ALO185-{uuid.uuid4()}",
            request_type="sikayet",
            category_code=None,
            description="Sokak lambası yanmıyor.",
            latitude=None,
            longitude=None,
            contact=requests_service.Contact(
                full_name="Şükrü Öğütçü",
                phone="+905551112233",
                email="sukru@ornek.local",
                address="Çiftlikköy Mah. 3. Sk. No:7",
                preferred_channel="sms",
            ),
        ),
    )
    with container.uow() as uow:
        uow.session.execute(
            update(CitizenRequest).where(CitizenRequest.id == request.id).values(directorate_code=directorate)
        )
        uow.commit()
    return request


def contact_reads(container: Container, request_id: uuid.UUID) -> list[str]:
    with container.uow() as uow:
        return list(
            uow.session.scalars(
                select(AuditInboxLine.actor).where(
                    AuditInboxLine.entity == "citizen_contacts",
                    AuditInboxLine.action == "read",
                    AuditInboxLine.entity_id == str(request_id),
                )
            )
        )


def test_request_search_filters_within_the_directorate_and_finds_by_tracking_number(
    app_client: TestClient, container: Container
) -> None:
    own, other = submitted(container, "YOL"), submitted(container, "PARK")
    sign_in(container, app_client, "yol.personel", (Role.DIRECTORATE_STAFF,), "YOL")
    page = app_client.get("/personel/talepler?durum=alindi")
    assert page.status_code == 200, page.text
    assert own.tracking_code in page.text and other.tracking_code not in page.text
    refused = app_client.get("/personel/talepler?mudurluk=PARK")
    assert refused.status_code == 403 and "requests:read-all" in refused.text
    found = app_client.get(f"/personel/talepler?takip={own.tracking_code.lower()}")
    assert found.status_code == 303 and found.headers["location"] == f"/personel/talepler/{own.id}"
    assert app_client.get(f"/personel/talepler/{other.id}").status_code == 403
    wrong_date = app_client.get("/personel/talepler?baslangic=dun")
    assert wrong_date.status_code == 200 and "Başlangıç tarihi" in wrong_date.text


def test_search_results_are_paged_and_the_pager_keeps_the_filters(
    app_client: TestClient, container: Container
) -> None:
    ours = {submitted(container, "YOL").tracking_code for _ in range(PAGE_SIZE + 1)}
    sign_in(container, app_client, "yol.personel", (Role.DIRECTORATE_STAFF,), "YOL")
    first = app_client.get("/personel/talepler?durum=alindi")
    assert first.status_code == 200, first.text
    total_pages = int(re.search(r"<span>Sayfa 1 / (\d+)</span>", first.text).group(1))  # type: ignore[union-attr]
    assert total_pages >= 2 and "← Önceki sayfa" not in first.text
    seen: list[str] = []
    page = first
    for number in range(1, total_pages + 1):
        assert f"<span>Sayfa {number} / {total_pages}</span>" in page.text
        seen += re.findall(r">(BI-[A-Z2-7-]+)</a>", page.text)
        following = re.search(r'<a href="([^"]+)">Sonraki sayfa →</a>', page.text)
        if number == total_pages:
            assert following is None and "← Önceki sayfa" in page.text
            break
        assert following is not None and "durum=alindi" in following.group(1)
        page = app_client.get(following.group(1).replace("&amp;", "&"))
        assert page.status_code == 200, page.text
    assert ours <= set(seen) and len(seen) == len(set(seen))


def test_the_request_page_and_the_search_say_codes_in_turkish(
    app_client: TestClient, container: Container
) -> None:
    own = submitted(container, "YOL")
    with container.uow() as uow:
        directorate = uow.session.get(Directorate, "YOL")
        assert directorate is not None
        name = directorate.name
    sign_in(container, app_client, "yol.personel", (Role.DIRECTORATE_STAFF,), "YOL")
    listed = app_client.get("/personel/talepler?durum=alindi")
    row = re.search(rf"<tr[^>]*>\s*<td><a [^>]+>{own.tracking_code}</a></td>(.*?)</tr>", listed.text, re.S)
    assert row is not None, listed.text
    assert "<td>Şikâyet</td>" in row.group(1) and f"<td>{escape(name)}</td>" in row.group(1)
    page = app_client.get(f"/personel/talepler/{own.id}")
    assert page.status_code == 200, page.text
    for shown in (
        "<dt>Tür</dt><dd>Şikâyet</dd>",
        "<dt>Kanal</dt><dd>Çağrı merkezi</dd>",
        f"<dt>Müdürlük</dt><dd>{escape(name)}</dd>",
        "<td>Talep alındı</td>",
    ):
        assert shown in page.text, shown
    assert "<dd>sikayet</dd>" not in page.text and "<dd>cagri-merkezi</dd>" not in page.text


@pytest.fixture()
def audited(container: Container) -> Container:
    """The container with the audit trail's sessions (the composition root's), still in the
    test's rolled-back transaction."""
    connection = container.session_factory.kw["bind"]
    factory = audit.audited_sessionmaker(
        connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return dataclasses.replace(container, session_factory=factory)


def test_the_contact_is_shown_only_to_roles_allowed_to_see_it_and_every_read_is_audited(
    audited: Container,
) -> None:
    container = audited
    with TestClient(create_app(container), follow_redirects=False) as app_client:
        check_contact(container, app_client)


def check_contact(container: Container, app_client: TestClient) -> None:
    request = submitted(container, "YOL")
    url = f"/personel/talepler/{request.id}"
    sign_in(container, app_client, "eys.uzman", (Role.IMS_OFFICE,), None)
    page = app_client.get(url)
    assert page.status_code == 200 and "Sokak lambası yanmıyor." in page.text
    assert "Şükrü" not in page.text and "requests:contact" in page.text
    assert "eys.uzman" not in contact_reads(container, request.id)
    sign_in(container, app_client, "halkla.iliskiler", (Role.PUBLIC_RELATIONS,), "HALKLA")
    page = app_client.get(url)
    assert page.status_code == 200
    assert "Şükrü Öğütçü" in page.text and "+905551112233" in page.text and "denetim kaydına" in page.text
    assert "Geçmiş" in page.text
    assert contact_reads(container, request.id).count("halkla.iliskiler") == 1
    app_client.get(url)
    assert contact_reads(container, request.id).count("halkla.iliskiler") == 2


def test_settings_for_the_staff_pages_have_safe_defaults(container: Container) -> None:
    settings = dataclasses.replace(container).settings
    assert settings.staff_client_id == "belediye-personel"
    assert settings.staff_client_secret.get_secret_value() == ""
    assert settings.staff_session_idle_minutes == 30 and settings.staff_session_max_hours == 10
