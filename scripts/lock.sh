#!/usr/bin/env bash
# Resolve the pinned dependency files in requirements/ from pyproject.toml (run with --help).
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/lock.sh [--upgrade]

Writes, from pyproject.toml, with uv (pip install uv) and the package index:
  requirements/runtime.txt  [project] dependencies, every version pinned with its hashes
                            (the Docker image and `pip install --require-hashes` use it)
  requirements/build.txt    [build-system] requires (hatchling), pinned with hashes
  requirements/dev.txt      the dependencies and the dev extra, pinned (a constraints file:
                            pip install -c requirements/dev.txt -e '.[dev]')

Each file starts with the requirements it was resolved from; tests/test_locks.py fails when
they no longer match pyproject.toml. Versions already pinned are kept unless --upgrade.
The resolution is universal (every platform) for Python 3.11 and newer.
USAGE
}

UPGRADE=()
case "${1:-}" in
    --upgrade) UPGRADE=(--upgrade) ;;
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
esac
command -v uv >/dev/null || { echo "scripts/lock.sh needs uv: pip install uv" >&2; exit 1; }
cd "$(dirname "$0")/.."

# The inputs, as the header of each file: python -c prints the requirements of one group.
inputs() {
    python3 - "$1" <<'PY'
import sys, tomllib
data = tomllib.load(open("pyproject.toml", "rb"))
group = sys.argv[1]
if group == "build":
    reqs = data["build-system"]["requires"]
else:
    reqs = list(data["project"]["dependencies"])
    if group == "dev":
        reqs += data["project"]["optional-dependencies"]["dev"]
for req in sorted(reqs, key=str.lower):
    print(f"#   {req}")
PY
}

lock() {  # lock NAME [uv args...]
    local name="$1"; shift
    local out="requirements/$name.txt" body
    body="$(mktemp)"
    # Native TLS: the system's certificates (a proxy's CA, where there is one).
    [ -f "$out" ] && sed '/^# Resolved from:/,/^$/d' "$out" >"$body"
    uv pip compile --quiet --native-tls --universal --python-version 3.11 --no-header \
        "${UPGRADE[@]}" "$@" --output-file "$body"
    {
        echo "# Resolved from: (scripts/lock.sh; do not edit by hand)"
        inputs "$name"
        echo
        cat "$body"
    } >"$out"
    rm -f "$body"
    echo "wrote $out ($(grep -c '==' "$out") pins)" >&2
}

lock runtime --generate-hashes pyproject.toml
lock dev --extra dev --constraint requirements/runtime.txt pyproject.toml
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml","rb"))["build-system"]["requires"]))' \
    >requirements/.build.in
trap 'rm -f requirements/.build.in' EXIT
lock build --generate-hashes requirements/.build.in
