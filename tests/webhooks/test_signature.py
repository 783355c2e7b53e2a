"""The signature is the Standard Webhooks one: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
one per secret, which the `standardwebhooks` package verifies with either secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from jobs.notify_http import signature_header, signed_headers
from tests.webhooks.receiver import PREVIOUS_SECRET, SECRET

BODY = b'{"type":"job.finished","data":{"id":"x"}}'


def test_the_signature_is_v1_and_the_base64_hmac_of_id_timestamp_and_body() -> None:
    # when
    header = signature_header([SECRET], "msg_1", 1_700_000_000, BODY)

    # then
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    assert header == "v1," + base64.b64encode(digest).decode()


def test_a_request_signed_with_two_secrets_verifies_with_either() -> None:
    # given the headers of a request signed during a rotation
    headers = signed_headers([SECRET, PREVIOUS_SECRET], "msg_2", BODY)

    # then
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]+=* v1,[A-Za-z0-9+/]+=*", headers["webhook-signature"])
    assert headers["webhook-id"] == "msg_2"
    assert Webhook(SECRET).verify(BODY, headers) == {"type": "job.finished", "data": {"id": "x"}}
    assert Webhook(PREVIOUS_SECRET).verify(BODY, headers)["type"] == "job.finished"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY.replace(b"x", b"y"), headers)
