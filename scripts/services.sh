#!/usr/bin/env bash
# Installs and runs the real services Voronka's tests talk to, on loopback only:
#   * Apache Kafka (single node, KRaft broker+controller), jars resolved by Maven from
#     scripts/kafka/pom.xml, configured by scripts/kafka/server.properties + log4j2.yaml;
#   * PostgreSQL, a private cluster (not Debian's default one), role/db voronka/voronka;
#   * the kcat CLI.
#
# Usage: scripts/services.sh start|stop|status|start-kafka|stop-kafka|restart-kafka
#
#   start   idempotent: installs what is missing, starts what is not running, waits until
#           both services answer, then prints on stdout (and nothing else on stdout):
#               export VORONKA_TEST_KAFKA=127.0.0.1:19092
#               export VORONKA_TEST_POSTGRES=postgresql://voronka:voronka@127.0.0.1:15432/voronka
#           so a caller can   eval "$(scripts/services.sh start)"
#           If a port is already served by a healthy instance from another checkout (the
#           same settings and credentials), that instance is reused.
#   stop    stops the instances this checkout started.
#   status  tells what runs; exits 0 only if both services answer.
#
# State lives in $VORONKA_SERVICES_DIR (default <repo>/.services, gitignored).
# Ports: VORONKA_TEST_KAFKA_PORT (19092), VORONKA_TEST_KAFKA_CONTROLLER_PORT (19093),
#        VORONKA_TEST_POSTGRES_PORT (15432).
# Other knobs: VORONKA_SERVICES_TIMEOUT (readiness wait per service, s, default 60),
#              VORONKA_KAFKA_HEAP_OPTS (default "-Xms256m -Xmx512m").
set -euo pipefail

# Only the export lines go to stdout; everything else (ours and every tool's) to stderr.
exec 3>&1 1>&2

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${VORONKA_SERVICES_DIR:-$REPO/.services}"
KAFKA_PORT="${VORONKA_TEST_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${VORONKA_TEST_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${VORONKA_TEST_POSTGRES_PORT:-15432}"
TIMEOUT="${VORONKA_SERVICES_TIMEOUT:-60}"
KAFKA_HEAP_OPTS="${VORONKA_KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
PG_USER=voronka PG_PASSWORD=voronka PG_DB=voronka

KAFKA_SRC="$REPO/scripts/kafka"
KAFKA_DIR="$SERVICES_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_OUT="$KAFKA_LOGS/kafka.out"     # the JVM's own stdout/stderr
KAFKA_CONF="$KAFKA_DIR/server.properties"

KAFKA_URL="127.0.0.1:$KAFKA_PORT"
PG_URL="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"

T0=${EPOCHREALTIME/./}
log() {
    local ms=$(( (${EPOCHREALTIME/./} - T0) / 1000 ))
    printf '[services %3d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
say() { printf '%s\n' "$*" >&3; }
die() { printf 'services.sh: ERROR: %s\n' "$*" >&2; exit 1; }
# Prints the last lines of the given log files (those that exist) to stderr.
tail_logs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        printf -- '----- last 40 lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
    printf -- '-----\n' >&2
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# ------------------------------------------------------------------ packages (apt)
APT_UPDATED=
apt_install() {  # apt_install PACKAGE...
    local sudo=()
    if ! is_root; then
        { command -v sudo >/dev/null && sudo -n true 2>/dev/null; } \
            || die "need to install: $* (not root and no password-less sudo): install them and rerun"
        sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null || die "need to install: $* (no apt-get on this machine)"
    local aptlog="$SERVICES_DIR/apt.log"
    mkdir -p "$SERVICES_DIR"
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >"$aptlog" 2>&1 \
            || { tail_logs "$aptlog"; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    log "apt-get install $* (log $aptlog)"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
        apt-get install -y --no-install-recommends "$@" >>"$aptlog" 2>&1 \
        || { tail_logs "$aptlog"; die "apt-get install $* failed"; }
}

java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n1
}

ensure_packages() {
    local want=()
    command -v java >/dev/null || want+=(openjdk-17-jre-headless)
    command -v mvn >/dev/null || want+=(maven)
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || want+=(postgresql)
    command -v kcat >/dev/null || want+=(kcat)
    [ ${#want[@]} -eq 0 ] || apt_install "${want[@]}"
    local jv; jv="$(java_major)"
    { [ -n "$jv" ] && [ "$jv" -ge 17 ]; } || die "Kafka 4 needs Java >= 17; 'java' here is version '${jv:-unknown}'"
}

# ------------------------------------------------------------------ ports
port_open() {  # is something accepting connections on 127.0.0.1:$1 ?
    (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ------------------------------------------------------------------ Kafka
# Asks 127.0.0.1:$1 for cluster metadata with the Kafka protocol (ApiVersions, then
# Metadata v2..v8).  Prints "<cluster-id> <broker-count> <host:port of broker 1...>" and
# exits 0 if it is a Kafka broker that lists at least one live broker.
kafka_probe() {
    python3 - "$1" <<'PY'
import socket, struct, sys

port = int(sys.argv[1])

def call(sock, api_key, version, corr, body=b""):
    client = b"voronka-services"
    msg = struct.pack(">hhih", api_key, version, corr, len(client)) + client + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", recv(sock, 4))[0]
    data = recv(sock, size)
    if struct.unpack_from(">i", data)[0] != corr:
        raise SystemExit("bad correlation id")
    return data, 4

def recv(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise SystemExit("connection closed")
        buf += chunk
    return buf

def string(data, off):
    n = struct.unpack_from(">h", data, off)[0]
    off += 2
    if n < 0:
        return None, off
    return data[off:off + n].decode(), off + n

try:
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.settimeout(3)
    # ApiVersions v0: which Metadata versions does the broker serve?
    data, off = call(sock, 18, 0, 1)
    err, n = struct.unpack_from(">hi", data, off)
    off += 6
    if err:
        raise SystemExit(f"ApiVersions error {err}")
    versions = {}
    for _ in range(n):
        key, lo, hi = struct.unpack_from(">hhh", data, off)
        off += 6
        versions[key] = (lo, hi)
    lo, hi = versions[3]
    version = min(hi, 8)
    if version < max(lo, 2):
        raise SystemExit("no usable Metadata version")
    # Metadata v2..v8, no topics: throttle(v3+), brokers, cluster_id, controller_id.
    body = struct.pack(">i", 0) + (b"\x00" if version >= 4 else b"")
    if version >= 8:
        body += b"\x00\x00"
    data, off = call(sock, 3, version, 2, body)
    if version >= 3:
        off += 4
    (count,) = struct.unpack_from(">i", data, off)
    off += 4
    brokers = []
    for _ in range(count):
        (node,) = struct.unpack_from(">i", data, off)
        host, off = string(data, off + 4)
        (bport,) = struct.unpack_from(">i", data, off)
        _rack, off = string(data, off + 4)
        brokers.append(f"{host}:{bport}")
    cluster, off = string(data, off)
    if not brokers:
        raise SystemExit("no live broker yet")
    print(cluster, len(brokers), " ".join(brokers))
except (OSError, KeyError, struct.error) as exc:
    raise SystemExit(f"{type(exc).__name__}: {exc}")
PY
}

kafka_own_pid() {  # prints the pid of the broker this checkout started, if it runs
    [ -f "$KAFKA_PID" ] || return 1
    local pid; pid="$(cat "$KAFKA_PID" 2>/dev/null)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $KAFKA_CONF" || return 1
    echo "$pid"
}

kafka_libs() {
    local stamp="$KAFKA_LIBS/.pom.sha256" want
    want="$(sha256sum "$KAFKA_SRC/pom.xml" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    log "Kafka: resolving jars with Maven (scripts/kafka/pom.xml) into $KAFKA_LIBS"
    local tmp="$KAFKA_DIR/libs.tmp"
    rm -rf "$tmp"
    mkdir -p "$KAFKA_DIR"
    if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" \
            dependency:copy-dependencies -DoutputDirectory="$tmp" >"$KAFKA_DIR/maven.log" 2>&1; then
        tail_logs "$KAFKA_DIR/maven.log"
        die "Maven could not resolve Kafka's jars (see above)"
    fi
    echo "$want" >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "Kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_LIBS" | cut -f1)"
}

kafka_config() {
    local text
    text="$(cat "$KAFKA_SRC/server.properties")"
    text="${text//@KAFKA_PORT@/$KAFKA_PORT}"
    text="${text//@CONTROLLER_PORT@/$CONTROLLER_PORT}"
    text="${text//@DATA_DIR@/$KAFKA_DATA}"
    printf '%s\n' "$text" >"$KAFKA_CONF.tmp"
    mv "$KAFKA_CONF.tmp" "$KAFKA_CONF"
}

kafka_java() {  # kafka_java MAIN-CLASS ARGS...  (a tool, in the foreground; logs apart)
    java -Xms64m -Xmx256m -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.yaml" \
        -Dkafka.logs.dir="$KAFKA_LOGS/tools" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_format() {
    if [ -f "$KAFKA_DATA/meta.properties" ]; then
        return 0
    fi
    [ -s "$KAFKA_DIR/cluster-id" ] || kafka_java kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster-id"
    log "Kafka: formatting storage (cluster id $(cat "$KAFKA_DIR/cluster-id"))"
    mkdir -p "$KAFKA_DATA"
    if ! kafka_java kafka.tools.StorageTool format --standalone --ignore-formatted \
            -t "$(cat "$KAFKA_DIR/cluster-id")" -c "$KAFKA_CONF" >"$KAFKA_LOGS/format.log" 2>&1; then
        tail_logs "$KAFKA_LOGS/format.log"
        die "Kafka storage format failed"
    fi
    echo "$CONTROLLER_PORT" >"$KAFKA_DIR/formatted-controller-port"
}

kafka_wait_ready() {  # kafka_wait_ready PID
    local pid="$1" deadline=$((SECONDS + TIMEOUT)) out
    while :; do
        if out="$(kafka_probe "$KAFKA_PORT" 2>/dev/null)"; then
            log "Kafka: ready on $KAFKA_URL (cluster $out)"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail_logs "$KAFKA_OUT" "$KAFKA_LOGS/server.log"
            die "Kafka exited during start-up (logs above; state in $KAFKA_DIR)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail_logs "$KAFKA_OUT" "$KAFKA_LOGS/server.log"
            kill "$pid" 2>/dev/null || true
            die "Kafka did not answer a metadata request on $KAFKA_URL within ${TIMEOUT}s (logs above)"
        fi
        sleep 0.5
    done
}

kafka_start() {
    local pid out
    if pid="$(kafka_own_pid)"; then
        log "Kafka: already running (pid $pid)"
        grep -qx "listeners=PLAINTEXT://$KAFKA_URL,CONTROLLER://127.0.0.1:$CONTROLLER_PORT" "$KAFKA_CONF" \
            || die "the Kafka broker of $SERVICES_DIR runs with other ports ($(grep '^listeners=' "$KAFKA_CONF")); run '$0 stop' first"
        kafka_wait_ready "$pid"
        return 0
    fi
    rm -f "$KAFKA_PID"
    if port_open "$KAFKA_PORT"; then
        if out="$(kafka_probe "$KAFKA_PORT" 2>&1)"; then
            local cluster count first
            read -r cluster count first _ <<<"$out"
            [ "$first" = "$KAFKA_URL" ] \
                || die "port $KAFKA_PORT is a Kafka broker that advertises '$first', not $KAFKA_URL; stop it or set VORONKA_TEST_KAFKA_PORT"
            log "Kafka: NOTE: $KAFKA_URL is already served by a healthy Kafka broker ($count broker(s), cluster $cluster) not started from $SERVICES_DIR (another checkout's?); reusing it"
            return 0
        fi
        die "port $KAFKA_PORT on 127.0.0.1 is in use by something that is not a working Kafka broker ($out); stop it or set VORONKA_TEST_KAFKA_PORT"
    fi
    port_open "$CONTROLLER_PORT" \
        && die "Kafka controller port $CONTROLLER_PORT on 127.0.0.1 is in use; stop that process or set VORONKA_TEST_KAFKA_CONTROLLER_PORT"

    kafka_libs
    mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
    kafka_config
    kafka_format
    if [ -f "$KAFKA_DIR/formatted-controller-port" ] \
        && [ "$(cat "$KAFKA_DIR/formatted-controller-port")" != "$CONTROLLER_PORT" ]; then
        log "Kafka: WARNING: storage was formatted with controller port $(cat "$KAFKA_DIR/formatted-controller-port"), now $CONTROLLER_PORT; if the broker does not come up, remove $KAFKA_DIR/data"
    fi

    log "Kafka: starting (logs in $KAFKA_LOGS)"
    # setsid + nohup: the broker outlives this script and its terminal; it inherits none
    # of our fds 0-3 (a caller's $(...) or pipe would otherwise wait for the broker to
    # exit) nor the lock (fd 8); it runs in $KAFKA_DIR, not in the caller's directory.
    # shellcheck disable=SC2086,SC2016
    setsid nohup bash -c 'echo $$ >"$0" && cd "${0%/*}" && exec "$@"' "$KAFKA_PID" \
        java $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath="$KAFKA_LOGS" \
        -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_SRC/log4j2.yaml" -Dkafka.logs.dir="$KAFKA_LOGS" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
        </dev/null >"$KAFKA_OUT" 2>&1 3>&- 8>&- &
    for _ in $(seq 50); do [ -s "$KAFKA_PID" ] && break; sleep 0.1; done
    pid="$(cat "$KAFKA_PID" 2>/dev/null)" || die "Kafka: no pid file written"
    kafka_wait_ready "$pid"
}

kafka_stop() {
    local pid
    if ! pid="$(kafka_own_pid)"; then
        rm -f "$KAFKA_PID"
        log "Kafka: not running from $SERVICES_DIR"
        return 0
    fi
    log "Kafka: stopping (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "Kafka: still running after 60 s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$KAFKA_PID"
    log "Kafka: stopped"
}

# ------------------------------------------------------------------ PostgreSQL
PG_BIN='' PG_ROOT='' PG_DATA='' PG_SOCK='' PG_LOG=

pg_bin_dir() {  # the binaries matching an existing cluster, else the newest installed
    local v
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        v="$(cat "$PG_DATA/PG_VERSION")"
        [ -x "/usr/lib/postgresql/$v/bin/initdb" ] \
            || die "$PG_DATA was made by PostgreSQL $v, which is not installed here; remove $PG_ROOT or install postgresql-$v"
        echo "/usr/lib/postgresql/$v/bin"
        return
    fi
    # shellcheck disable=SC2012
    v="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed 's#/usr/lib/postgresql/\([^/]*\)/.*#\1#' | sort -n | tail -n1)"
    [ -n "$v" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    echo "/usr/lib/postgresql/$v/bin"
}

# The OS user owning the cluster: 'postgres' when we are root (initdb refuses root),
# else ourselves.
as_pg() {
    # (from / : the caller's working directory may be closed to postgres)
    if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_locate() {  # sets PG_ROOT (symlinks resolved: see pg_paths), PG_DATA, PG_SOCK, PG_LOG
    PG_ROOT="$(readlink -m "$SERVICES_DIR/postgres")"
    PG_DATA="$PG_ROOT/data"
    PG_SOCK="$PG_ROOT/run"
    PG_LOG="$PG_ROOT/postgres.log"
    # A unix socket path is limited to ~107 bytes.
    if [ $(( ${#PG_SOCK} + 20 )) -gt 107 ]; then
        PG_SOCK="/tmp/voronka-pg-$(printf '%s' "$PG_ROOT" | sha256sum | cut -c1-12)"
    fi
}

pg_paths() {  # pg_locate, creating what is missing
    PG_ROOT="$SERVICES_DIR/postgres"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' OS user (is the postgresql package installed?)"
        # The data dir must belong to postgres, and postgres must be able to reach it; a
        # checkout under e.g. /root is not traversable by postgres: then use /var/lib.
        if [ ! -d "$PG_ROOT" ] && [ ! -L "$PG_ROOT" ]; then
            mkdir -p "$PG_ROOT"
            chown postgres: "$PG_ROOT"
            chmod 700 "$PG_ROOT"
            if ! runuser -u postgres -- test -w "$PG_ROOT"; then
                rmdir "$PG_ROOT"
                local alt
                alt="/var/lib/voronka-services/$(printf '%s' "$SERVICES_DIR" | sha256sum | cut -c1-16)/postgres"
                mkdir -p "$alt"
                chown postgres: "$alt"
                chmod 700 "$alt"
                ln -s "$alt" "$PG_ROOT"
                log "PostgreSQL: NOTE: user postgres cannot reach $SERVICES_DIR; its cluster lives in $alt (symlinked from $PG_ROOT)"
            fi
        fi
    else
        mkdir -p "$PG_ROOT"
        chmod 700 "$PG_ROOT"
    fi
    pg_locate
    as_pg mkdir -p "$PG_SOCK"
    as_pg chmod 700 "$PG_SOCK"
}

pg_running() { as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

pg_admin() {  # pg_admin SQL  (as the cluster's superuser over the private socket)
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -Atc "$1"
}

pg_check_voronka() {  # can voronka/voronka log in over TCP, and create databases?
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -At "$PG_URL" \
        -c "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>&1
}

pg_setup_role() {
    pg_admin "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
            CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
        ELSE
            ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
        END IF;
    END \$\$;" || die "PostgreSQL: could not create role $PG_USER"
    if [ -z "$(pg_admin "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
        pg_admin "CREATE DATABASE $PG_DB OWNER $PG_USER" || die "PostgreSQL: could not create database $PG_DB"
        log "PostgreSQL: created role and database $PG_DB"
    fi
}

pg_start() {
    local out
    pg_paths
    PG_BIN="$(pg_bin_dir)"
    if [ -f "$PG_DATA/PG_VERSION" ] && pg_running; then
        log "PostgreSQL: already running ($PG_DATA)"
        local running_port
        running_port="$(as_pg sed -n 4p "$PG_DATA/postmaster.pid")"
        [ "$running_port" = "$PG_PORT" ] \
            || die "the PostgreSQL of $SERVICES_DIR runs on port $running_port, not $PG_PORT; run '$0 stop' first"
    else
        if port_open "$PG_PORT"; then
            if out="$(pg_check_voronka)" && [ "$out" = t ]; then
                log "PostgreSQL: NOTE: 127.0.0.1:$PG_PORT is already served by a PostgreSQL not started from $SERVICES_DIR (another checkout's?) that accepts $PG_USER/$PG_PASSWORD with CREATEDB; reusing it"
                return 0
            fi
            die "port $PG_PORT on 127.0.0.1 is in use by something that is not a PostgreSQL accepting $PG_USER/$PG_PASSWORD on database $PG_DB with CREATEDB ($out); stop it or set VORONKA_TEST_POSTGRES_PORT"
        fi
        if [ ! -f "$PG_DATA/PG_VERSION" ]; then
            log "PostgreSQL: initdb $PG_DATA ($PG_BIN)"
            as_pg rm -rf "$PG_DATA"
            # Local connections only through a socket in a 0700 directory: trust there;
            # TCP needs a password.
            if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
                    --auth-local=trust --auth-host=scram-sha-256 >"$PG_ROOT/initdb.log" 2>&1; then
                tail_logs "$PG_ROOT/initdb.log"
                die "PostgreSQL initdb failed"
            fi
            as_pg sh -c "echo \"include_if_exists = 'voronka.conf'\" >>'$PG_DATA/postgresql.conf'"
        fi
        # Settings that follow the environment are rewritten on every start.
        as_pg sh -c "cat >'$PG_DATA/voronka.conf'" <<EOF
# Written by scripts/services.sh on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 200
EOF
        log "PostgreSQL: starting on 127.0.0.1:$PG_PORT (log $PG_LOG)"
        if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" -s </dev/null 3>&- 8>&-; then
            tail_logs "$PG_LOG"
            die "PostgreSQL did not start (log above)"
        fi
    fi
    local deadline=$((SECONDS + TIMEOUT))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -t 2; do
        if [ $SECONDS -ge $deadline ]; then
            tail_logs "$PG_LOG"
            die "PostgreSQL does not accept connections on 127.0.0.1:$PG_PORT (log above)"
        fi
        sleep 0.5
    done
    pg_setup_role
    out="$(pg_check_voronka)" || true
    [ "$out" = t ] || die "PostgreSQL: $PG_USER cannot log in over TCP with CREATEDB: $out"
    log "PostgreSQL: ready on 127.0.0.1:$PG_PORT"
}

pg_stop() {
    pg_locate
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        log "PostgreSQL: no cluster in $PG_ROOT"
        return 0
    fi
    PG_BIN="$(pg_bin_dir)"
    if ! pg_running; then
        log "PostgreSQL: not running from $SERVICES_DIR"
        return 0
    fi
    log "PostgreSQL: stopping"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s
    log "PostgreSQL: stopped"
}

# ------------------------------------------------------------------ kcat
kcat_check() {
    local out
    if ! out="$(kcat -L -b "$KAFKA_URL" -m 10 2>&1)" || ! grep -q '1 brokers:' <<<"$out"; then
        printf '%s\n' "$out" >&2
        die "kcat cannot list metadata from $KAFKA_URL"
    fi
    log "kcat: lists metadata from $KAFKA_URL"
}

# ------------------------------------------------------------------ commands
# One start/stop at a time per services dir (fd 8; the daemons do not inherit it).
lock() {
    mkdir -p "$SERVICES_DIR"
    exec 8>"$SERVICES_DIR/.lock"
    flock -w 300 8 || die "another services.sh start/stop holds $SERVICES_DIR/.lock"
}

cmd_start() {
    lock
    ensure_packages
    # Postgres first: its start-up overlaps nothing, and Kafka's is the slow one.
    pg_start
    kafka_start
    kcat_check
    log "up: Kafka $KAFKA_URL, PostgreSQL 127.0.0.1:$PG_PORT"
    printf 'export VORONKA_TEST_KAFKA=%s\n' "$KAFKA_URL" >&3
    printf 'export VORONKA_TEST_POSTGRES=%s\n' "$PG_URL" >&3
}

cmd_stop() {
    lock
    kafka_stop
    pg_stop
}

cmd_status() {
    local ok=0 pid out
    if pid="$(kafka_own_pid)"; then
        say "Kafka: running from $SERVICES_DIR (pid $pid)"
    else
        say "Kafka: not running from $SERVICES_DIR"
    fi
    if out="$(kafka_probe "$KAFKA_PORT" 2>&1)"; then
        say "Kafka: $KAFKA_URL answers (cluster $out)"
    else
        say "Kafka: $KAFKA_URL does not answer ($out)"
        ok=1
    fi
    pg_locate
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        PG_BIN="$(pg_bin_dir)"
        if pg_running; then
            say "PostgreSQL: running from $SERVICES_DIR ($PG_DATA)"
        else
            say "PostgreSQL: not running from $SERVICES_DIR"
        fi
    else
        say "PostgreSQL: no cluster in $PG_ROOT"
        PG_BIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)"
    fi
    if [ -n "$PG_BIN" ] && out="$(pg_check_voronka)" && [ "$out" = t ]; then
        say "PostgreSQL: $PG_URL answers"
    else
        say "PostgreSQL: $PG_URL does not answer (${out:-no psql})"
        ok=1
    fi
    return $ok
}

# Kafka alone (fault tests stop and start a broker mid-stream; with their own VORONKA_SERVICES_DIR and ports
# they disturb no other broker).
cmd_start_kafka() {
    lock
    ensure_packages
    kafka_start
    printf 'export VORONKA_TEST_KAFKA=%s\n' "$KAFKA_URL" >&3
}

cmd_stop_kafka() {
    lock
    kafka_stop
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    start-kafka) cmd_start_kafka ;;
    stop-kafka) cmd_stop_kafka ;;
    restart-kafka) cmd_stop_kafka; cmd_start_kafka ;;
    *) echo "usage: $0 start|stop|status|start-kafka|stop-kafka|restart-kafka" >&2; exit 2 ;;
esac
