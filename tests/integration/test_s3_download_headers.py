"""What a presigned S3 download tells the browser and the caches on the way (moto's server,
over real HTTP). S3 has no override for `X-Content-Type-Options`, so only the cache rule
is asked for; the folder store's links send both (tests/api/test_signed_links.py)."""

from __future__ import annotations

import urllib.request

from storage.s3 import S3Store

ROSTER_CSV = "\ufeffDatabase ID,First Name\r\n101,Zoë\r\n".encode()


def test_a_presigned_roster_download_tells_caches_not_to_keep_it(s3_store: S3Store) -> None:
    # given an export in the bucket
    with s3_store.open_write("exports/21/students.csv") as out:
        out.write(ROSTER_CSV)

    # when its presigned link is downloaded
    url = s3_store.download_url("exports/21/students.csv", filename="students.csv", ttl_seconds=60)
    with urllib.request.urlopen(url) as response:
        body = response.read()
        cache_control = response.headers["Cache-Control"]

    # then
    assert body == ROSTER_CSV
    assert cache_control == "no-store"
