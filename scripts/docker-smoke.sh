#!/usr/bin/env bash
# Build the image and try it as a deployer would (run with --help).
set -uo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/docker-smoke.sh [--base-image IMAGE] [--postgres-image IMAGE] [--no-compose]
                               [--keep]

Builds the image, then:
  1. SQLite: `serve` on a named volume: it becomes healthy, refuses a webhook without its
     token, stores a real delivery report (tests/fixtures/sms/) and shows it through the read
     API with the API token, `infobip-events health` passes, it runs as uid 10001 with no
     anonymous volume and logs JSON, stops on SIGTERM within 10 s with code 0, and a new
     container on the same volume still has the report;
  2. a root-owned bind mount at /data stops the start with one line saying what to do;
  3. compose.yaml (Compose v2) with a .env made from .env.example: PostgreSQL, migrate,
     receiver and worker; migrate exits 0, receiver and worker become healthy, a delivery
     report posted to the receiver is processed by the worker and read back; `down -v`
     leaves no volume behind.
Prints one line per check and what failed; exits 1 when anything failed.

Containers use the host's network (`--network host`, compose's network_mode: host through an
override file written beside a copy of compose.yaml), on free ports: the engine here is
started without a bridge (scripts/start-docker-engine.sh), and host networking works on any
Linux engine. Nothing is pulled:
  --base-image IMAGE      the image's PYTHON_IMAGE (default python:3.11-slim; where no
                          registry is reachable, make a stand-in: scripts/make-base-image.sh)
  --postgres-image IMAGE  compose's PostgreSQL (default: postgres:17 when it is present
                          locally, else a stand-in built from scripts/postgres-standin/ on
                          the base image, Debian's PostgreSQL)
  --no-compose            skip step 3
  --keep                  leave the containers, volumes and the work directory for a look
Compose v2 is `docker compose` or a `docker-compose` of version 2.
USAGE
}

BASE_IMAGE="python:3.11-slim"
PG_IMAGE=""
COMPOSE=1
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --base-image) BASE_IMAGE="$2"; shift 2 ;;
        --postgres-image) PG_IMAGE="$2"; shift 2 ;;
        --no-compose) COMPOSE=0; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.." || exit 2
ROOT="$PWD"
RUN_ID="iesmoke$$"
TAG="infobip-events:smoke"
WORK="$(mktemp -d /tmp/infobip-events-smoke.XXXXXX)"
chmod 755 "$WORK"
FIXTURE="tests/fixtures/sms/dlr_v3_delivered_batch_of_2.json"
MESSAGE_ID="MESSAGE-ID-123-xyz"
API_TOKEN="api-$RANDOM$RANDOM"
WEBHOOK_TOKEN="hook-$RANDOM$RANDOM"
FAILED=()
PASSED=0

say() { printf '%s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); say "  ok    $*"; }
fail() { FAILED+=("$*"); say "  FAIL  $*"; }
check() {  # check DESCRIPTION COMMAND...: pass when the command succeeds
    local what="$1"; shift
    if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http() {  # http METHOD URL [curl args...]: prints the status code, body to $WORK/body
    local method="$1" url="$2"; shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" --max-time 10 "$@" "$url" || echo 000
}
health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null; }
wait_healthy() {  # wait_healthy CONTAINER SECONDS
    local deadline=$((SECONDS + $2)) status
    while [ $SECONDS -lt $deadline ]; do
        status="$(health_of "$1")"
        [ "$status" = healthy ] && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
        sleep 1
    done
    return 1
}
wait_state() {  # wait_state URL TOKEN STATE SECONDS: the message reaches STATE
    local deadline=$((SECONDS + $4))
    while [ $SECONDS -lt $deadline ]; do
        if [ "$(http GET "$1" -H "authorization: Bearer $2")" = 200 ] \
            && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["state"] != sys.argv[2])' \
                "$WORK/body" "$3"; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

cleanup() {
    if [ "$KEEP" -eq 1 ]; then
        say "kept: containers and volumes named $RUN_ID*, work directory $WORK"
        return
    fi
    if [ -n "${COMPOSE_CMD:-}" ] && [ -f "$WORK/compose/compose.yaml" ]; then
        (cd "$WORK/compose" && "${COMPOSE_CMD[@]}" -p "$RUN_ID" -f compose.yaml -f hostnet.yaml \
            down -v --remove-orphans >/dev/null 2>&1)
    fi
    docker ps -aq --filter "name=$RUN_ID" | xargs -r docker rm -f >/dev/null 2>&1
    docker volume ls -q --filter "name=$RUN_ID" | xargs -r docker volume rm >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- preconditions ----------------------------------------------------------------------------
docker info >/dev/null 2>&1 || { say "no Docker engine answers (scripts/start-docker-engine.sh)"; exit 2; }
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "the base image $BASE_IMAGE is not here: docker pull it, or make a stand-in with"
    say "scripts/make-base-image.sh (README, 'Docker without a registry')"
    exit 2
fi
VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

# --- build ------------------------------------------------------------------------------------
say "build: $TAG from $BASE_IMAGE (version $VERSION, revision ${REVISION:0:12})"
start=$SECONDS
if docker build --network host --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
    --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
    -t "$TAG" . >"$WORK/build.log" 2>&1; then
    size="$(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}')"
    pass "image built in $((SECONDS - start)) s, $size"
else
    fail "image build (last lines below)"
    tail -n 20 "$WORK/build.log"
    exit 1
fi
check "runs as the numeric user 10001:10001" \
    test "$(docker image inspect -f '{{.Config.User}}' "$TAG")" = "10001:10001"
check "declares no volume" test "$(docker image inspect -f '{{len .Config.Volumes}}' "$TAG")" = 0
check "label org.opencontainers.image.version is $VERSION" test "$(docker image inspect \
    -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$TAG")" = "$VERSION"
check "infobip-events --version in the image says $VERSION" \
    test "$(docker run --rm --network host "$TAG" --version)" = "infobip-events $VERSION"
check "PID 1 is tini" test "$(docker image inspect -f '{{index .Config.Entrypoint 0}}' "$TAG")" = /usr/bin/tini
check "no pip in the service's environment nor in the base image's Python" \
    docker run --rm --network host --entrypoint sh "$TAG" -c \
    'for py in python /usr/local/bin/python3 /usr/bin/python3; do
       command -v "$py" >/dev/null || continue
       "$py" -c "import pip" 2>/dev/null && exit 1
     done; ! command -v pip >/dev/null'

# --- 1. SQLite: serve on a named volume ---------------------------------------------------------
say "sqlite: serve on the named volume $RUN_ID-data"
PORT="$(free_port)"
URL="http://127.0.0.1:$PORT"
run_serve() {  # run_serve NAME
    docker run -d --name "$1" --network host --health-interval 2s \
        -e "INFOBIP_EVENTS_PORT=$PORT" -e "INFOBIP_EVENTS_API_TOKEN=$API_TOKEN" \
        -e "INFOBIP_EVENTS_WEBHOOK_TOKEN=$WEBHOOK_TOKEN" \
        -v "$RUN_ID-data:/data" "$TAG" >/dev/null
}
run_serve "$RUN_ID-sqlite"
if wait_healthy "$RUN_ID-sqlite" 60; then
    pass "healthy (the image's HEALTHCHECK: receiver ready, worker heartbeat)"
else
    fail "healthy (status: $(health_of "$RUN_ID-sqlite"))"
    docker logs --tail 20 "$RUN_ID-sqlite" 2>&1
fi
check "a webhook without the token is refused (401)" \
    test "$(http POST "$URL/webhooks/sms" -H 'content-type: application/json' --data-binary "@$FIXTURE")" = 401
code="$(http POST "$URL/webhooks/sms" -H 'content-type: application/json' \
    -H "X-Webhook-Token: $WEBHOOK_TOKEN" --data-binary "@$FIXTURE")"
check "a real delivery report ($FIXTURE) is stored (200)" test "$code" = 200
check "the read API refuses a wrong token (401)" \
    test "$(http GET "$URL/v1/messages/$MESSAGE_ID" -H 'authorization: Bearer wrong')" = 401
check "the report is processed and read back with the API token (state delivered)" \
    wait_state "$URL/v1/messages/$MESSAGE_ID" "$API_TOKEN" delivered 20
check "infobip-events health in the container exits 0" \
    docker exec "$RUN_ID-sqlite" infobip-events health
check "every process runs as uid 10001" \
    sh -c "docker top '$RUN_ID-sqlite' -o uid | tail -n +2 | grep -qv '^10001\$' && exit 1 || exit 0"
check "only the named volume is mounted (no anonymous volume)" test \
    "$(docker inspect -f '{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}' "$RUN_ID-sqlite")" = "volume:$RUN_ID-data "
check "logs are JSON lines" sh -c "docker logs '$RUN_ID-sqlite' 2>&1 | head -n 5 | python3 -c \
    'import json,sys; [json.loads(l) for l in sys.stdin]'"
start_ns=$(date +%s%N)
docker stop -t 30 "$RUN_ID-sqlite" >/dev/null
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
check "SIGTERM stops it in ${stop_ms} ms (under 10 s)" test "$stop_ms" -lt 10000
check "exit code 0 after SIGTERM" test "$(docker inspect -f '{{.State.ExitCode}}' "$RUN_ID-sqlite")" = 0
docker rm "$RUN_ID-sqlite" >/dev/null
run_serve "$RUN_ID-sqlite2"
if wait_healthy "$RUN_ID-sqlite2" 60; then
    check "a new container on the same volume still has the report" \
        test "$(http GET "$URL/v1/messages/$MESSAGE_ID" -H "authorization: Bearer $API_TOKEN")" = 200
else
    fail "a new container on the same volume becomes healthy"
fi
docker rm -f "$RUN_ID-sqlite2" >/dev/null

# --- 2. a root-owned bind mount -----------------------------------------------------------------
say "sqlite: a root-owned bind mount at /data"
mkdir -p "$WORK/rootdata" && chown 0:0 "$WORK/rootdata" && chmod 755 "$WORK/rootdata"
docker run --rm --network host -e "INFOBIP_EVENTS_PORT=$PORT" -v "$WORK/rootdata:/data" "$TAG" \
    >"$WORK/bind.out" 2>&1
code=$?
check "the start stops with exit code 1 (was $code)" test "$code" = 1
check "in one line that says to chown the directory or use --user" \
    sh -c "test \$(grep -c . '$WORK/bind.out') = 1 && grep -q 'chown -R 10001' '$WORK/bind.out' && grep -q -- '--user' '$WORK/bind.out'"
check "no traceback" sh -c "! grep -q Traceback '$WORK/bind.out'"
say "        $(head -c 300 "$WORK/bind.out")"
check "with --user set to the directory's owner it starts" \
    docker run --rm --network host --user 0 -v "$WORK/rootdata:/data" "$TAG" db upgrade

# --- 3. compose.yaml: PostgreSQL, migrate, receiver, worker -----------------------------------
if [ "$COMPOSE" -eq 1 ]; then
    say "compose: PostgreSQL, migrate, receiver, worker"
    COMPOSE_CMD=()
    if docker compose version >/dev/null 2>&1; then
        COMPOSE_CMD=(docker compose)
    elif docker-compose version --short 2>/dev/null | grep -q '^v\?2'; then
        COMPOSE_CMD=(docker-compose)
    fi
    if [ ${#COMPOSE_CMD[@]} -eq 0 ]; then
        fail "Compose v2 is not installed (docker compose / docker-compose v2; README)"
    else
        say "  using $("${COMPOSE_CMD[@]}" version | head -n 1)"
        if [ -z "$PG_IMAGE" ]; then
            if docker image inspect postgres:17 >/dev/null 2>&1; then
                PG_IMAGE=postgres:17
            else
                PG_IMAGE="infobip-events-smoke/postgres:standin"
                say "  no postgres:17 here: building the stand-in $PG_IMAGE (Debian's PostgreSQL)"
                docker build --network host -q --build-arg "DEBIAN_IMAGE=$BASE_IMAGE" \
                    -t "$PG_IMAGE" scripts/postgres-standin >"$WORK/pg-build.log" 2>&1 \
                    || { tail -n 20 "$WORK/pg-build.log"; fail "PostgreSQL stand-in build"; }
            fi
        fi
        RPORT="$(free_port)"
        PGPORT="$(free_port)"
        PGPASS="pw$RANDOM$RANDOM"
        mkdir -p "$WORK/compose"
        cp compose.yaml "$WORK/compose/"
        # The deployer's steps: .env from .env.example, the required values set.
        sed -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$PGPASS|" \
            -e "s|^#EVENTS_IMAGE=.*|EVENTS_IMAGE=$TAG|" \
            -e "s|^#POSTGRES_IMAGE=.*|POSTGRES_IMAGE=$PG_IMAGE|" \
            -e "s|^#INFOBIP_EVENTS_API_TOKEN=.*|INFOBIP_EVENTS_API_TOKEN=$API_TOKEN|" \
            -e "s|^#INFOBIP_EVENTS_WEBHOOK_TOKEN=.*|INFOBIP_EVENTS_WEBHOOK_TOKEN=$WEBHOOK_TOKEN|" \
            .env.example >"$WORK/compose/.env"
        # Only the networking differs from compose.yaml: host networking on free ports.
        cat >"$WORK/compose/hostnet.yaml" <<YAML
services:
  postgres:
    network_mode: host
    command: ["postgres", "-p", "$PGPORT"]
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "$PGPORT", "-U", "infobip_events"]
  migrate:
    network_mode: host
    environment:
      INFOBIP_EVENTS_DATABASE_URL: postgresql://infobip_events:$PGPASS@127.0.0.1:$PGPORT/infobip_events
  receiver:
    network_mode: host
    ports: !reset []
    environment:
      INFOBIP_EVENTS_DATABASE_URL: postgresql://infobip_events:$PGPASS@127.0.0.1:$PGPORT/infobip_events
      INFOBIP_EVENTS_PORT: "$RPORT"
    healthcheck:
      interval: 2s
  worker:
    network_mode: host
    environment:
      INFOBIP_EVENTS_DATABASE_URL: postgresql://infobip_events:$PGPASS@127.0.0.1:$PGPORT/infobip_events
    healthcheck:
      interval: 2s
YAML
        compose() { (cd "$WORK/compose" && "${COMPOSE_CMD[@]}" -p "$RUN_ID" -f compose.yaml -f hostnet.yaml "$@"); }
        check "compose.yaml with the .env is valid (compose config)" compose config -q
        start=$SECONDS
        if compose up -d --no-build >"$WORK/up.log" 2>&1; then
            pass "compose up ($((SECONDS - start)) s)"
        else
            fail "compose up"
            tail -n 20 "$WORK/up.log"
        fi
        cid() { compose ps -a -q "$1" 2>/dev/null | head -n 1; }
        check "migrate ran db upgrade and exited 0" \
            test "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(cid migrate)")" = "exited 0"
        check "receiver healthy (readiness on its port)" wait_healthy "$(cid receiver)" 60
        check "worker healthy (heartbeat)" wait_healthy "$(cid worker)" 60
        RURL="http://127.0.0.1:$RPORT"
        check "a real delivery report is stored by the receiver (200)" test "$(http POST \
            "$RURL/webhooks/sms" -H 'content-type: application/json' \
            -H "X-Webhook-Token: $WEBHOOK_TOKEN" --data-binary "@$FIXTURE")" = 200
        check "the worker processes it; read back with the API token (state delivered)" \
            wait_state "$RURL/v1/messages/$MESSAGE_ID" "$API_TOKEN" delivered 30
        if [ ${#FAILED[@]} -gt 0 ]; then
            compose ps -a
            compose logs --tail 15
        fi
        anon_before="$(docker volume ls -q --filter "label=com.docker.compose.project=$RUN_ID" | grep -cv postgres-data)"
        check "no anonymous volume (only postgres-data)" test "$anon_before" = 0
        compose down -v >/dev/null 2>&1
        check "compose down -v leaves no volume" \
            test -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$RUN_ID")"
    fi
fi

# --- summary ----------------------------------------------------------------------------------
say ""
if [ ${#FAILED[@]} -eq 0 ]; then
    say "docker smoke: $PASSED passed, 0 failed"
    exit 0
fi
say "docker smoke: $PASSED passed, ${#FAILED[@]} failed:"
for item in "${FAILED[@]}"; do say "  - $item"; done
exit 1
