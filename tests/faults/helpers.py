"""Shared steps for the fault tests: an admin, an open question with accepted proposals."""
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from tests.e2e.conftest import Client


def grant(platform, email, role):
    argv = [sys.executable, "-m", "services.accounts.cli", "grant", "--email", email, "--role", role]
    assert subprocess.run(argv, env=platform.env, capture_output=True, timeout=30).returncode == 0


def question_with_proposals(platform, count=3):
    admin = Client(platform).register()
    grant(platform, admin.email, "admin")
    admin.login()
    now = datetime.now(timezone.utc)
    question = admin.post("/questions", json={
        "slug": f"f-{uuid.uuid4().hex[:8]}", "title": "Question sous contrainte", "country": "FR", "language": "fr",
        "scope": "national", "starts_at": (now - timedelta(days=1)).isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat()}).json()
    proposals = []
    for i in range(count):
        p = admin.post(f"/questions/{question['id']}/proposals",
                       json={"content": f"Il faut tenir bon face aux pannes {i}"}).json()["proposal"]
        assert admin.post(f"/proposals/{p['id']}/accept", json={}).status_code == 200
        proposals.append(p)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if all(Client(platform).get(f"/proposals/{p['id']}/results").status_code == 200 for p in proposals):
            break
        time.sleep(0.1)
    return question, proposals
