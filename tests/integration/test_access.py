"""Access as an administrator sets it up: `kalite-keys` for a new integration, staff signing in at
the identity provider, and each role seeing what it should on the running system."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from services.operaton import Operaton
from tests.conftest import API_URL, REPO
from tests.credentials import bearer
from tests.integration.citizen import instance_of, payload
from tests.integration.conftest import sign_in, staff_token
from tests.integration.tasklist import person, poll, wait_for_task

KEYS = str(Path(sys.executable).with_name("kalite-keys"))


def _keys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KEYS, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_a_key_made_with_the_cli_posts_its_channel_until_it_is_revoked(api: httpx.Client) -> None:
    name = f"cimer-koprusu-{uuid.uuid4().hex[:6]}"
    created = _keys("create", name, "--channel", "cimer", "--per-minute", "120")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("bht_")

    listed = _keys("list")
    assert name in listed.stdout and "cimer" in listed.stdout and "120/min" in listed.stdout
    assert secret not in listed.stdout
    assert _keys("create", name, "--channel", "cimer").returncode == 2

    with httpx.Client(base_url=API_URL, timeout=10) as bridge:
        accepted = bridge.post("/requests", json=payload(channel="cimer"), headers={"X-API-Key": secret})
        assert accepted.status_code == 201, accepted.text
        assert (
            bridge.post("/requests", json=payload(channel="web"), headers={"X-API-Key": secret}).status_code
            == 403
        )

        revoked = _keys("revoke", name)
        assert revoked.returncode == 0, revoked.stderr
        # The API trusts a looked-up key for API_KEY_CACHE_SECONDS (10 s by default).
        poll(
            lambda: (
                True
                if bridge.post(
                    "/requests", json=payload(channel="cimer"), headers={"X-API-Key": secret}
                ).status_code
                == 401
                else None
            ),
            what="the revoked key to be refused",
            timeout=20,
            every=1,
        )
    assert _keys("revoke", name).returncode == 2


def test_staff_sign_in_and_see_their_own_directorate(api: httpx.Client, engine: Operaton) -> None:
    wrong = sign_in("yol.mudur", "yanlis")
    assert wrong.status_code == 400  # OAuth 2.0's answer to a wrong password grant
    assert wrong.json()["error"] == "invalid_grant"

    # A request routed to YOL (pothole) and one to PARK (tree), both through the whole path.
    yol = api.post("/requests", json=payload(categoryCode="YOL-CUKUR")).json()["trackingNumber"]
    park = api.post("/requests", json=payload(categoryCode="PARK-AGAC")).json()["trackingNumber"]
    director = staff_token("yol.mudur")

    def director_view() -> tuple[set[str], list[dict[str, str]], set[str]] | None:
        seen = api.get("/requests", params={"size": 200}, headers=bearer(director)).json()["items"]
        mine = {r["trackingNumber"] for r in seen}
        everyone = {
            r["trackingNumber"]
            for r in api.get("/requests", params={"size": 200, "directorate": "PARK"}).json()["items"]
        }
        return (mine, seen, everyone) if yol in mine and park in everyone else None

    mine, seen, everyone = poll(director_view, what="both requests routed", timeout=60, every=1)
    assert yol in mine
    assert park not in mine
    assert {r["directorateCode"] for r in seen} == {"YOL"}
    assert park in everyone  # the administrator sees every directorate
    refused = api.get("/requests", params={"directorate": "PARK"}, headers=bearer(director))
    assert refused.status_code == 403
    assert refused.json()["missingPermission"] == "requests:read-all"
    # In Tasklist, the Road staff find the pothole among their tasks, the Park staff do not.
    yol_instance, park_instance = instance_of(yol), instance_of(park)
    wait_for_task(engine, yol_instance, "talebi-degerlendir")
    wait_for_task(engine, park_instance, "talebi-degerlendir")
    road_staff = {t.process_instance_id for t in person("yol.personel").tasks(candidateUser="yol.personel")}
    park_staff = {t.process_instance_id for t in person("park.personel").tasks(candidateUser="park.personel")}
    assert yol_instance in road_staff and park_instance not in road_staff
    assert park_instance in park_staff and yol_instance not in park_staff
    operator = staff_token("operator")
    assert api.get("/requests", params={"directorate": "PARK"}, headers=bearer(operator)).status_code == 200
