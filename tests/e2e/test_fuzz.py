"""Property-based fuzzing of the public API from its own OpenAPI document (schemathesis):
thousands of generated requests, valid and invalid, must never produce a 5xx, and
invalid input must be refused with a 4xx."""
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, not_a_server_error

from tests.e2e.conftest import Client
from tests.e2e.test_journey import _grant

pytestmark = pytest.mark.e2e
EXAMPLES = 40  # per operation and mode: about 3,000 requests in all


# What schemathesis reports as invalid although the request that left was valid: the
# Authorization header it removed is put back by ``headers=`` below, and an undeclared query
# parameter can be dropped on the way (an empty list or None is not serialized; shrinking
# can remove it: schemathesis#4332, #4762).
_UNDONE = {"header: violates `required` (was Authorization)", "query: violates `additionalProperties`"}


def _nothing_invalid_was_sent(operation, case, failure: str) -> bool:
    """True for a 'schema-violating request accepted' whose only violations are in
    ``_UNDONE`` and whose query, as sent, holds declared parameters only."""
    if "found 1 distinct failure" not in failure or "Schema-violating request accepted" not in failure:
        return False
    block = failure.split("Invalid component:", 1)[-1].split("\n\n", 1)[0]
    violations = {line.strip()[2:] for line in block.splitlines() if line.strip().startswith("- ")}
    if not violations or not violations <= _UNDONE:
        return False
    declared = {p.name for p in operation.query}
    sent = {k for k, v in (case.query or {}).items() if v is not None and v != []}
    return sent <= declared


def test_fuzz_the_public_api(platform):
    admin = Client(platform).register()
    _grant(platform, admin.email, "admin")
    token = admin.login().token
    schema = schemathesis.openapi.from_url(f"{platform.api}/openapi.json")
    session = requests.Session()
    sent, failures = [0], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/v1/stream":
            continue  # an endless response by design
        headers = {"Authorization": f"Bearer {token}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = [not_a_server_error] + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                sent[0] += 1
                try:
                    case.call_and_validate(base_url=platform.url, session=session, headers=headers, checks=checks)
                except BaseException as exc:  # noqa: B036 - collect every failure, then report them all
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    if "[414] URI Too Long" in str(exc):  # refused by the HTTP server itself: a 4xx too
                        return
                    if _nothing_invalid_was_sent(operation, case, str(exc)):
                        return
                    failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {exc}"[:600])

            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid
                assert mode is GenerationMode.NEGATIVE
    assert sent[0] >= 2000, sent[0]
    assert not failures, "\n".join(sorted(set(failures))[:20])
