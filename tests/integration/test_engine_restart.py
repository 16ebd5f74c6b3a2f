"""An accepted request survives the engine being down: intake answers, and the instance starts
exactly once when the engine is back."""

import time

import httpx

from deploy.local import install, processes, stack
from tests.integration.camunda_web import CamundaWeb, instances_with_variable, poll
from tests.integration.citizen import instance_of, request_row, submit, wait_status


def test_intake_with_the_engine_stopped_starts_the_instance_once_it_is_back(api: httpx.Client) -> None:
    layout = stack.Layout.from_env()
    assert processes.stop(layout.dirs, "camunda", timeout=90), "the test needs the local engine"
    try:
        tracking, _ = submit(api, channel="cagri-merkezi", categoryCode="ZABITA-ISGAL")
        time.sleep(3)
        row = request_row(tracking)
        assert row is not None and row["status"] == "alindi" and row["process_instance_id"] is None
        assert api.get("/health").json()["checks"]["engine"] != "ok"
    finally:
        stack.start_camunda(layout, install.find_java_home())
    instance_of(tracking)
    request_id = str(wait_status(tracking, "mudurlukte", timeout=120)["id"])
    with CamundaWeb.login() as camunda:
        poll(lambda: instances_with_variable(camunda, "requestId", request_id) or None, what="the instance")
        time.sleep(3)
        assert len(instances_with_variable(camunda, "requestId", request_id)) == 1
