"""A request can be followed from the gateway through RPC into the events it causes, and
every process exposes Prometheus metrics."""
import json
import time
import uuid

import pytest
import requests

from common import testing
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e


def test_request_id_follows_rpc_into_events_and_logs(platform):
    recorder = testing.EventRecorder(platform.amqp_uri, "accounts", ["user_registered"])
    request_id = f"trace-{uuid.uuid4().hex}"
    try:
        response = Client(platform).post("/accounts", headers={"X-Request-Id": request_id}, json={
            "email": f"{uuid.uuid4().hex[:8]}@example.org", "password": "a long enough password",
            "display_name": "Trace", "country": "FR", "language": "fr"})
        assert response.status_code == 201 and response.headers["X-Request-Id"] == request_id
        event = recorder.wait_for(lambda e: e["data"]["user_id"] == response.json()["id"])
        stack = event["_headers"]["nameko.call_id_stack"]
        assert stack[0] == f"gateway.{request_id}" and stack[1].startswith("accounts.register.")
    finally:
        recorder.close()
    platform.log.flush()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line.split("] ", 1)[1] for line in open(platform.log.name) if request_id in line and "] {" in line]
        records = [json.loads(line) for line in lines]
        if any(r.get("logger") == "civic.access" for r in records):
            break
        time.sleep(0.2)
    access = [r for r in records if r.get("logger") == "civic.access"]
    assert access and access[0]["request_id"] == request_id and access[0]["status"] == 201
    assert access[0]["service"] == "gateway" and access[0]["path"] == "/api/v1/accounts"


def test_metrics_on_the_gateway_and_each_service(platform):
    Client(platform).get("/questions")
    text = requests.get(f"{platform.url}/metrics", timeout=5).text
    assert 'civic_gateway_request_seconds_count{method="GET",route="/api/v1/questions",status="200"}' in text
    assert 'civic_gateway_rpc_seconds_count{method="list_questions",outcome="ok",service="proposals"}' in text
    port = platform.metrics_ports["proposals"]
    service_text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'civic_entrypoint_seconds_count{kind="rpc",method="list_questions",outcome="ok",service="proposals"}' in service_text
