"""Links: presigned S3 links and the API's signed links live exactly the configured
lifetime, name only their job's own object, and a tampered or expired one is refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi.testclient import TestClient

from api.links import LinkSigner
from tests.api.helpers import SECRET
from tests.factories import SmallDistrict
from tests.security.conftest import LINK_TTL
from tests.security.walk import admin, exported, imported, student_file


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_a_local_download_link_expires_at_the_link_ttl_and_names_only_its_jobs_file(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    before = time.time()
    job, _ = exported(client, admin(roster), {"entity": "students"})
    # then
    url = job["result_url"]
    assert abs(int(query(url)["expires"]) - (before + LINK_TTL)) < 5
    key = f"exports/{roster.district.id}/{job['id']}/students.csv"
    assert urlsplit(url).path == f"/v1/files/{key}"


def test_a_tampered_local_download_link_is_refused(
    client: TestClient, roster: SmallDistrict
) -> None:
    # given an export and an import of the district, each with its own link
    job, _ = exported(client, admin(roster), {"entity": "students"})
    other = imported(client, admin(roster), "students", student_file([]))
    url, parts = job["result_url"], query(job["result_url"])
    other_path = urlsplit(other["result_url"]).path
    tampered = {
        "key": urlsplit(url)._replace(path=other_path).geturl(),
        "filename": url.replace(parts["filename"], "evil.csv"),
        "expiry": url.replace(parts["expires"], str(int(parts["expires"]) + 3600)),
        "signature": url.replace(parts["signature"], parts["signature"][::-1]),
    }
    # when
    answers = {name: client.get(link).status_code for name, link in tampered.items()}
    # then
    assert client.get(url).status_code == 200
    assert answers == dict.fromkeys(tampered, 403)


def test_an_expired_local_link_is_refused(client: TestClient, roster: SmallDistrict) -> None:
    # given a link signed properly, but for a time already past
    job, _ = exported(client, admin(roster), {"entity": "students"})
    key = urlsplit(job["result_url"]).path.removeprefix("/v1/files/")
    past = int(time.time()) - 1
    signer = LinkSigner(SECRET, LINK_TTL)
    signature = signer.signature("GET", key, past, "students.csv")
    link = f"/v1/files/{key}?" + urlencode(
        {"expires": past, "filename": "students.csv", "signature": signature}
    )
    # when
    answer = client.get(link)
    # then
    assert answer.status_code == 403
    assert "expired" in answer.json()["detail"]


def test_a_local_upload_link_expires_at_the_link_ttl_and_names_only_its_import(
    client: TestClient, roster: SmallDistrict
) -> None:
    # when
    before = time.time()
    created = client.post("/v1/imports", json={"entity": "students"}, headers=admin(roster))
    # then
    upload = created.json()["upload"]
    assert abs(int(query(upload["url"])["expires"]) - (before + LINK_TTL)) < 5
    assert urlsplit(upload["url"]).path == f"/v1/uploads/{created.json()['id']}"
    expires_at = dt.datetime.fromisoformat(upload["expires_at"]).timestamp()
    assert abs(expires_at - (before + LINK_TTL)) < 5


def test_presigned_s3_links_expire_at_the_link_ttl_and_name_their_jobs_own_key(
    s3_client_app: TestClient, roster: SmallDistrict
) -> None:
    # when
    before = dt.datetime.now(dt.UTC)
    job, _ = exported(s3_client_app, admin(roster), {"entity": "students"})
    created = s3_client_app.post(
        "/v1/imports", json={"entity": "students"}, headers=admin(roster)
    ).json()
    # then the GET
    url = job["result_url"]
    assert query(url)["X-Amz-Expires"] == str(LINK_TTL)
    key = f"rosterjobs/exports/{roster.district.id}/{job['id']}/students.csv"
    assert urlsplit(url).path.endswith(f"/{key}")
    # and the POST
    fields = created["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert abs((expiration - before).total_seconds() - LINK_TTL) < 5
    assert created["id"] in fields["key"]
    assert {"key": fields["key"]} in policy["conditions"]
    assert not any(
        isinstance(rule, list) and rule[:2] == ["starts-with", "$key"]
        for rule in policy["conditions"]
    )
