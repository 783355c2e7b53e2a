"""Property-based run of the OpenAPI document: for every operation, requests generated from
the document by schemathesis (valid ones, and invalid ones) are sent in-process over ASGI
as a district admin; none may get a 500, and every answer must match the status codes,
content types and schemas the document declares.

Driven by hand with hypothesis (`APIOperation.as_strategy`) rather than schemathesis's
pytest plugin, whose fixture loader does not run on pytest 9.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from tests.api.helpers import auth
from tests.factories import SmallDistrict
from worker.runtime import Runtime

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def check_operation(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_500_or_an_undocumented_answer(
    runtime: Runtime, roster: SmallDistrict, mode: GenerationMode
) -> None:
    # given
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12  # with commit and revert

    # when / then
    for operation in operations:
        check_operation(operation, mode, auth(roster.district_admin))
