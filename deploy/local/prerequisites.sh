#!/usr/bin/env bash
# Installs the system tools the local stack needs when a fresh machine lacks them
# (Debian packages; needs root). Python and Node packages are installed by the Makefile, and the
# engine is built from deploy/engine by Maven on the first `make up` (deploy/local/engine.py).
set -euo pipefail
missing=()
command -v python3 >/dev/null || missing+=(python3 python3-venv)
command -v mvn >/dev/null || missing+=(maven)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v javac >/dev/null || ls /usr/lib/jvm/*/bin/javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || [ -n "${DATABASE_URL:-}" ] || missing+=(postgresql)
# HAProxy: the load balancer of the local cluster mode (ENGINE_NODES / API_PROCESSES > 1) and its test.
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
# Headless Chromium for the browser tests (Tasklist), driven by Playwright.
command -v chromium >/dev/null || missing+=(chromium)
# DejaVu Sans carries the Turkish letters of the PDF reports (REPORT_FONT_PATH).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || [ -n "${REPORT_FONT_PATH:-}" ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]} (install them, or run as root to let this script do it)" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
