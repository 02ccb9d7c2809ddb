"""Schemathesis (pinned in constraints.txt) against the app: requests generated from /openapi.json for every
documented operation, valid and invalid, must never get a 5xx and every answer must match the documented schema.
The app has the fast tier's stand-in bundle: the contract is under test here, not the model."""
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

pytestmark = pytest.mark.slow
EXAMPLES = 15   # per operation; derandomized, so every run sends the same requests


def test_no_server_errors_and_answers_match_the_schema(app, api_key):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers={"X-API-Key": api_key})

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert operations >= 5
    assert not failures, "\n\n".join(failures)
