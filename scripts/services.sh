#!/usr/bin/env bash
# Make sure the services the tests use are installed and answering on loopback:
# PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis on 127.0.0.1:6379; and that Debian's
# Chromium is at /usr/bin/chromium for the dashboard's browser test (Playwright drives it;
# the test never downloads a browser of its own); and that curl and jq are on the PATH for
# the walkthrough of docs/http-api.md, which tests/e2e/test_readme_walkthrough.py runs; and
# the programs nobody here wrote that read what we write: LibreOffice (headless Calc) and
# poppler's pdftotext; and the fonts the PDF roster embeds (DejaVu for Latin, Greek,
# Cyrillic, Arabic and Hebrew; Droid Sans Fallback for Chinese, Japanese and Korean).
set -euo pipefail

apt_updated=""
need_package() {
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

need_package redis-server redis-server
need_package pg_ctlcluster postgresql
need_package curl curl
need_package jq jq
need_package soffice libreoffice-calc-nogui
need_package pdftotext poppler-utils
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
  || [ ! -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ]; then
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core fonts-droid-fallback >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null
fi

if ! pg_up; then
  version=$(ls /etc/postgresql | sort -n | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
fi
if ! redis_up; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

for _ in $(seq 1 30); do
  if pg_up && redis_up; then
    echo "services: postgres and redis are up"
    exit 0
  fi
  sleep 1
done
echo "services: postgres or redis did not come up" >&2
exit 1
