"""Apply the platform's RabbitMQ definitions (deploy/docker/rabbitmq/definitions.json)
through the management HTTP API: the ``civic`` vhost with quorum as its default queue
type, the policies (quorum delivery limit + dead-letter exchange on the event-handler
queues ``evt-*``, delivery limit on ``rpc-*``), the dead-letter exchange and queue, and
the user's permissions on the vhost. Idempotent; run by ``deploy/compose.yaml``
(service ``rabbitmq-setup``) once the broker is healthy. Standard library only.

Environment: RABBITMQ_MANAGEMENT_URL (http://rabbitmq:15672), RABBITMQ_USER,
RABBITMQ_PASSWORD, DEFINITIONS (this directory's definitions.json), SETUP_TIMEOUT (90).

Why not ``load_definitions`` in rabbitmq.conf: importing definitions at boot skips the
creation of the default user, so the file would have to carry a user and its password
hash, i.e. a secret in the repository.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

API = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://rabbitmq:15672").rstrip("/") + "/api"
USER = os.environ.get("RABBITMQ_USER", "guest")
PASSWORD = os.environ.get("RABBITMQ_PASSWORD", "guest")
DEFINITIONS = Path(os.environ.get("DEFINITIONS", Path(__file__).with_name("definitions.json")))


def call(method: str, path: str, body=None):
    request = urllib.request.Request(
        API + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json",
                 "authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_for_api(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            call("GET", "/overview")
            return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"rabbitmq-setup: management API not reachable at {API}: {exc}")
            time.sleep(2)


def main() -> int:
    definitions = json.loads(DEFINITIONS.read_text())
    wait_for_api(float(os.environ.get("SETUP_TIMEOUT", "90")))
    for vhost in definitions.get("vhosts", []):
        # PUT creates the vhost or updates its default queue type (RabbitMQ >= 3.11.12)
        call("PUT", "/vhosts/" + urllib.parse.quote(vhost["name"], safe=""), {
            "description": vhost.get("description", ""),
            "tags": ",".join(vhost.get("tags", [])),
            "default_queue_type": vhost.get("default_queue_type", "quorum"),
        })
        call("PUT", f"/permissions/{urllib.parse.quote(vhost['name'], safe='')}/{urllib.parse.quote(USER, safe='')}",
             {"configure": ".*", "write": ".*", "read": ".*"})
    call("POST", "/definitions", {k: v for k, v in definitions.items() if k != "vhosts"})
    for vhost in definitions.get("vhosts", []):
        info = call("GET", "/vhosts/" + urllib.parse.quote(vhost["name"], safe=""))
        queue_type = info.get("default_queue_type") or (info.get("metadata") or {}).get("default_queue_type")
        print(f"rabbitmq-setup: vhost {vhost['name']} ready (default queue type: {queue_type}); policies: "
              + ", ".join(p["name"] for p in definitions.get("policies", []) if p["vhost"] == vhost["name"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
