#!/bin/sh
# PostgreSQL benchmark: radiant against pgBackRest on a real PostgreSQL 15
# cluster loaded by pgbench: full backup, unchanged re-backup, restore,
# point-in-time restore (restore + replay of pgbench WAL until promoted),
# repository size, peak RSS and per-segment WAL push/get latency, on two data
# sets (plain pgbench, and pgbench with random text in pgbench_accounts.filler).
#
#   bench/pg.sh                          run from anywhere, as root (or: make bench-pg); see bench/README.md
#   BENCH_SCALE=5 BENCH_WAL_SECS=20 bench/pg.sh   a quick small run
#   BENCH_DATASETS=plain bench/pg.sh     only one data set (plain, random)
#   BENCH_DIR=/path bench/pg.sh          where the runs happen (run.PID/, removed at the end)
#   BENCH_WAIT_IDLE=600 bench/pg.sh      first wait up to 600 s for other processes to finish
#   BENCH_ENCRYPT=1 bench/pg.sh          radiant's main repository encrypted (pgBackRest's stays plain)
#   BENCH_KEEP=1 bench/pg.sh             keep run.PID/ (logs, repositories) for a post-mortem
#
# Run by hand, never in CI. At the default scale (100, about 1.5 GB) it needs
# about 15 GB free and takes 15 to 25 minutes. PostgreSQL, pgBackRest and
# radiant run as the postgres user; every server the script starts (itself or
# through radiant) is stopped by its data directory's pid file at the end,
# also on failure; nothing is killed by name.
set -eu

die() { echo "bench/pg.sh: $*" >&2; exit 1; }
note() { echo "bench/pg.sh: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
RADIANT="$ROOT/build/radiant"
BENCH_DIR=${BENCH_DIR:-/var/tmp/radiant-bench-pg}
BENCH_SCALE=${BENCH_SCALE:-100}
BENCH_WAL_SECS=${BENCH_WAL_SECS:-120}
BENCH_DATASETS=${BENCH_DATASETS:-plain random}
BENCH_CLIENTS=${BENCH_CLIENTS:-4}
BENCH_WAL_SEGMENTS=${BENCH_WAL_SEGMENTS:-10}
BENCH_ENCRYPT=${BENCH_ENCRYPT:-0}
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SEG=16777216

# ------------------------------------------------------------- prerequisites --

[ "$(id -u)" -eq 0 ] || die "run as root: PostgreSQL, pgBackRest and radiant run as 'postgres' through runuser"
id postgres >/dev/null 2>&1 || die "user 'postgres' is missing; run scripts/install-deps"
[ -x "$PGBIN/postgres" ] || die "PostgreSQL 15 server binaries missing in $PGBIN; run scripts/install-deps"
for tool in dd runuser psql pgbench flock "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing; run scripts/install-deps"
done
# pgBackRest is the benchmark's comparison only, not a dependency of radiant.
missing=''
[ -x /usr/bin/time ] || missing="$missing time"
command -v pgbackrest >/dev/null 2>&1 || missing="$missing pgbackrest"
if [ -n "$missing" ]; then
    note "installing$missing (Debian packages, for the benchmark only)"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null ||
        die "apt-get install$missing failed"
fi
PGBR_VERSION=$(pgbackrest version)
if [ ! -x "$RADIANT" ]; then
    note "building $RADIANT"
    command -v cmake >/dev/null 2>&1 || die "cmake is missing; run scripts/install-deps as root"
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
        die "cmake configure failed"
    cmake --build "$ROOT/build" -j"$(nproc)" >/dev/null || die "build failed"
fi

mkdir -p "$BENCH_DIR" || die "cannot create BENCH_DIR $BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
chmod 755 "$BENCH_DIR"
# Space: per data set the cluster with its pg_wal, two repositories with about
# 2 GB of WAL each, one restored cluster at a time; plus dd's 2 GiB.
need_gb=$((4 + BENCH_SCALE * 12 / 100))
avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kb" -ge $((need_gb * 1024 * 1024)) ] ||
    die "$BENCH_DIR has $((avail_kb / 1024 / 1024)) GiB free; the benchmark needs ${need_gb} GiB (set BENCH_DIR)"

RUN="$BENCH_DIR/run.$$"
PGBENCH_PID=''
cleanup() {
    if [ -n "$PGBENCH_PID" ]; then kill "$PGBENCH_PID" 2>/dev/null || true; fi
    # every data directory a server was started in, by this script or by radiant
    if [ -f "$RUN/started" ]; then
        while read -r d; do
            if [ -f "$d/postmaster.pid" ]; then
                runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
            fi
        done <"$RUN/started"
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$RUN"
    rm -f "$BENCH_DIR/dd.out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$RUN"
chown postgres:postgres "$RUN"
: >"$RUN/started"

# radiant is run by postgres (directly, and as PostgreSQL's archive_command and
# restore_command): it must be able to execute the binary where it is.
MODULE="$ROOT/build/radiant_archive.so"
[ -f "$MODULE" ] || die "$MODULE is missing: run make build"
if ! runuser -u postgres -- test -x "$RADIANT"; then
    cp "$RADIANT" "$MODULE" "$RUN/" && chmod 755 "$RUN/radiant" "$RUN/radiant_archive.so"
    RADIANT="$RUN/radiant" MODULE="$RUN/radiant_archive.so"
fi

now() { date +%s.%N; }
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / 1e6 / s : 0) }'; }
mb() { awk -v n="$1" 'BEGIN { printf "%.0f", n / 1e6 }'; }
rss_mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; }
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }
json() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }'; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

# measure NAME CMD...: runs CMD (stdout to $RUN/NAME.out, stderr to $RUN/NAME.err)
# under /usr/bin/time. Sets SECS (wall), CPU (user+sys of CMD), RSS_KB (peak),
# OTHERS (percent of the machine's CPU used by other processes meanwhile) and
# appends them to $RUN/conditions: a busy machine explains a slow number.
measure() {
    name=$1; shift
    # shellcheck disable=SC2046
    set -- $(cpu_ticks) "$@"
    b0=$1 t0=$2; shift 2
    if ! /usr/bin/time -f '%e %U %S %M' -o "$RUN/$name.time" "$@" >"$RUN/$name.out" 2>"$RUN/$name.err"; then
        tail -n 20 "$RUN/$name.err" >&2
        die "$name failed: $*"
    fi
    # shellcheck disable=SC2046
    set -- $(cpu_ticks) $(tail -n 1 "$RUN/$name.time")
    SECS=$3 CPU=$(awk -v u="$4" -v s="$5" 'BEGIN { printf "%.2f", u + s }') RSS_KB=$6
    OTHERS=$(awk -v b="$(( $1 - b0 ))" -v t="$(( $2 - t0 ))" -v hz="$CLK_TCK" -v c="$CPU" \
        'BEGIN { o = t > 0 ? (b - c * hz) / t * 100 : 0; printf "%.0f", (o < 0 ? 0 : o) }')
    printf '| %s | %s s | %s s | %s%% |\n' "$name" "$SECS" "$CPU" "$OTHERS" >>"$RUN/conditions"
}

as_pg() { runuser -u postgres -- "$@"; }
# sql PORT QUERY: one value (or rows) from the postgres database, over TCP (trust)
sql() { psql -X -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atq -v ON_ERROR_STOP=1 -c "$2"; }

# wait_archived PORT: switches WAL and waits until the archiver has archived it
# (through both tools' archive-push).
wait_archived() {
    want=$(sql "$1" "SELECT pg_walfile_name(pg_switch_wal())")
    waited=0
    while :; do
        last=$(sql "$1" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        [ -n "$last" ] && [ "$(printf '%s\n%s\n' "$want" "$last" | sort | tail -n 1)" = "$last" ] && return 0
        [ "$waited" -ge 36000 ] && die "WAL $want was not archived within an hour (last: $last)"
        sleep 0.1; waited=$((waited + 1))
    done
}

least() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
greatest() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

# archiver_mode: "library" when the source's archiver runs with radiant's
# module loaded, "command" when without, "" when none runs (a change of
# archive_library restarts it, and the postmaster may wait seconds before
# starting the new one).
archiver_mode() {
    pid=$(sql "$SRC_PORT" "SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'")
    [ -n "$pid" ] || return 0
    if grep -q radiant_archive "/proc/$pid/maps" 2>/dev/null; then echo library; else echo command; fi
}

# archiver_round WAY (library, command, pgbackrest): hands the $SEGS of
# $D/wal/r back to the idle source cluster's archiver as .ready files (they
# are its own, archived long before) and sets SECS to the time from the
# reload that turns archiving on until all of them are .done. Each round
# starts from an empty archive, so every segment is a new push.
archiver_round() {
    way=$1
    # off: for the module, loaded but not configured; for commands, empty
    if [ "$way" = library ]; then
        printf "LOAD :'m';\nALTER SYSTEM SET archive_library = :'m';\nALTER SYSTEM SET radiant.config = :'c';\nALTER SYSTEM SET radiant.cluster = '';\nALTER SYSTEM RESET archive_command;\nSELECT pg_reload_conf();\n" |
            psql -X -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 -v m="$MODULE" -v c="$CONF" >/dev/null ||
            die "cannot set archive_library"
    else
        sql "$SRC_PORT" "ALTER SYSTEM RESET archive_library" >/dev/null
        sql "$SRC_PORT" "ALTER SYSTEM SET archive_command = ''" >/dev/null
        sql "$SRC_PORT" "SELECT pg_reload_conf()" >/dev/null
    fi
    want=$([ "$way" = library ] && echo library || echo command)
    waited=0
    until [ "$(archiver_mode)" = "$want" ]; do
        [ "$waited" -ge 600 ] && die "the archiver did not restart in $want mode within 60 s"
        sleep 0.1; waited=$((waited + 1))
    done
    rm -rf "$D/repo-walarch/objects" "$D"/pgbr-arch-repo/archive/push/*/0000*
    for s in $SEGS; do
        install -o postgres -g postgres -m 600 "$D/wal/r/$s" "$SRC_DATA/pg_wal/$s"
        rm -f "$SRC_DATA/pg_wal/archive_status/$s.done"
        install -o postgres -g postgres -m 600 /dev/null "$SRC_DATA/pg_wal/archive_status/$s.ready"
    done
    sync
    load="SELECT 1"
    case $way in
        library) load="LOAD '$MODULE'" on="ALTER SYSTEM SET radiant.cluster = 'pushtest'" ;;
        command) on="ALTER SYSTEM SET archive_command = '''$RADIANT'' --config ''$CONF'' wal push --db-cluster-identifier pushtest %p'" ;;
        pgbackrest) on="ALTER SYSTEM SET archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=push --repo1-path=$D/pgbr-arch-repo archive-push %p'" ;;
    esac
    psql -X -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 -c "$load" -c "$on" >/dev/null ||
        die "cannot turn on archiving ($way)"
    # One process turns archiving on and polls every 2 ms, so that the
    # polling does not compete with the archiver for the CPU.
    SECS=$("$PY" - "$SRC_PORT" "$SRC_DATA/pg_wal/archive_status" $SEGS <<'PYEOF'
import os, subprocess, sys, time
port, status, segs = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres",
                "-Atq", "-c", "SELECT pg_reload_conf()"], check=True, stdout=subprocess.DEVNULL)
while segs:
    segs = [s for s in segs if not os.path.exists(os.path.join(status, s + ".done"))]
    if time.monotonic() - t0 > 60:
        sys.exit(f"{len(segs)} segments not archived within 60 s; see the server log")
    time.sleep(0.002)
print(f"{time.monotonic() - t0:.3f}")
PYEOF
) || die "$way: archiving did not finish"
    printf '| archiver_%s_%s | %s s | - | - |\n' "$ds" "$way" "$SECS" >>"$RUN/conditions"
}

# pg_start_promoted DATA PORT: starts a restored cluster (pgBackRest's) on its
# own port and socket directory, without archiving, and returns when it has
# left recovery and accepts a write, polling every 0.2 s as radiant does.
cat >"$RUN/start-promoted.sh" <<EOF
#!/bin/sh
set -eu
data=\$1 port=\$2
mkdir -p "\$data.run"
$PGBIN/pg_ctl -D "\$data" -l "\$data.log" -w -t 3600 \\
    -o "-c port=\$port -c listen_addresses=127.0.0.1 -c unix_socket_directories=\$data.run -c archive_mode=off" start >/dev/null
while [ "\$(psql -X -h 127.0.0.1 -p "\$port" -U postgres -d postgres -Atq -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" != f ]; do
    $PGBIN/pg_ctl -D "\$data" status >/dev/null 2>&1 || { echo "server stopped; see \$data.log" >&2; exit 1; }
    sleep 0.2
done
psql -X -h 127.0.0.1 -p "\$port" -U postgres -d postgres -Atq -c 'SELECT txid_current()' >/dev/null
EOF
chmod 755 "$RUN/start-promoted.sh"

# stop_pg DATA: stops a server this script started (by its pid file) and removes its data
stop_pg() {
    if [ -f "$1/postmaster.pid" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$1" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$1" "$1.run" "$1.log"
}

# Other processes competing for the CPU make every number lower. With
# BENCH_WAIT_IDLE=SECONDS, wait up to that long for a quiet machine (under 10%
# busy over 3 s) before measuring; the run conditions are reported either way.
busy_pct() { # over 3 seconds
    # shellcheck disable=SC2046
    set -- $(cpu_ticks); sleep 3
    # shellcheck disable=SC2046
    set -- "$@" $(cpu_ticks)
    awk -v b="$(( $3 - $1 ))" -v t="$(( $4 - $2 ))" 'BEGIN { printf "%.0f", (t > 0 ? b / t * 100 : 0) }'
}
if [ "${BENCH_WAIT_IDLE:-0}" -gt 0 ]; then
    waited=0
    while pct=$(busy_pct) && [ "$pct" -ge 10 ]; do
        [ "$waited" -ge "$BENCH_WAIT_IDLE" ] && { note "machine still ${pct}% busy; measuring anyway"; break; }
        note "machine ${pct}% busy; waiting for it to be idle"
        sleep 7; waited=$((waited + 10))
    done
fi

# --------------------------------------------------------------- dd anchor --

note "dd: fsynced sequential write of 2 GiB, median of 3"
DD_ALL='' DD_LIST=''
for i in 1 2 3; do
    sync
    measure dd$i dd if=/dev/zero of="$BENCH_DIR/dd.out" bs=1M count=2048 conv=fsync
    rm -f "$BENCH_DIR/dd.out"
    DD_ALL="${DD_ALL:+$DD_ALL, }$(mbs $((2048 * 1048576)) "$SECS")"
    DD_LIST="$DD_LIST $SECS"
done
# shellcheck disable=SC2086
DD_SECS=$(printf '%s\n' $DD_LIST | sort -n | sed -n 2p)
DD_MBS=$(mbs $((2048 * 1048576)) "$DD_SECS")

# ---------------------------------------------------------------- data sets --

# load_data PORT DATASET: pgbench's tables at BENCH_SCALE, filled as pgbench's
# server-side generator fills them; "random" puts 84 characters of base64 text
# (from two SHA-256 of the row id: incompressible, reproducible) into each
# pgbench_accounts.filler instead of blanks.
load_data() {
    port=$1
    case $2 in
        plain) filler="''" ;;
        random) filler="substr(translate(encode(sha256(('a' || aid)::text::bytea) || sha256(('b' || aid)::text::bytea), 'base64'), E'\\n', ''), 1, 84)" ;;
        *) die "unknown data set '$2' (plain, random)" ;;
    esac
    pgbench -q -i -I dt -s "$BENCH_SCALE" -h 127.0.0.1 -p "$port" -U postgres postgres >/dev/null 2>&1 ||
        die "pgbench -i -I dt failed"
    sql "$port" "INSERT INTO pgbench_branches(bid, bbalance) SELECT bid, 0 FROM generate_series(1, $BENCH_SCALE) bid" >/dev/null
    sql "$port" "INSERT INTO pgbench_tellers(tid, bid, tbalance) SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, $BENCH_SCALE * 10) tid" >/dev/null
    sql "$port" "INSERT INTO pgbench_accounts(aid, bid, abalance, filler) SELECT aid, (aid - 1) / 100000 + 1, 0, $filler FROM generate_series(1, $BENCH_SCALE * 100000) aid" >/dev/null
    pgbench -q -i -I vp -s "$BENCH_SCALE" -h 127.0.0.1 -p "$port" -U postgres postgres >/dev/null 2>&1 ||
        die "pgbench -i -I vp failed"
    sql "$port" "CREATE TABLE bench_marker (tag text PRIMARY KEY, at timestamptz DEFAULT now())" >/dev/null
    sql "$port" "CHECKPOINT" >/dev/null
}

# pgbr_copy_phase LOG SKIP: the seconds pgBackRest spent copying files, from
# its debug log (log-level-file=debug), in the lines after the first SKIP: from
# the entry of backupProcess() (the parallel copy of every file; the checkpoint,
# pg_backup_start, the archive check, its wait for the next second and the
# manifest are done) to its return (before pg_backup_stop and the wait for WAL).
pgbr_copy_phase() {
    "$PY" - "$1" "$2" <<'EOF'
import datetime, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
ts = lambda l: datetime.datetime.strptime(l[:23], "%Y-%m-%d %H:%M:%S.%f")
start = [l for l in lines if "backup::backupProcess: (" in l]
stop = [l for l in lines if "backup::backupProcess: => " in l]
if len(start) != 1 or len(stop) != 1:
    sys.exit("cannot find backupProcess() in " + sys.argv[1])
print("%.3f" % (ts(stop[0]) - ts(start[0])).total_seconds())
EOF
}

# check_state PORT: "history rows|markers" of a restored cluster, which must
# match between the tools for the same target
check_state() {
    printf '%s|%s' "$(sql "$1" "SELECT count(*) FROM pgbench_history")" \
        "$(sql "$1" "SELECT string_agg(tag, ',' ORDER BY tag) FROM bench_marker")"
}

# restored_from CLUSTER: the backup id radiant restored a cluster from (its event)
restored_from() {
    as_pg "$RADIANT" --config "$CONF" --output json db describe-events --source-identifier "$1" >"$RUN/events.json"
    json "$RUN/events.json" '[e["Message"] for e in d["Events"] if e["Message"].startswith("restoring from")][-1].split("backup ")[1].split(" ")[0]'
}

# wait_spool_idle: waits for radiant's WAL prefetcher of the source cluster to
# finish (it holds the spool's flock), then empties the spool, so that every
# restore and fetch starts with nothing fetched ahead
wait_spool_idle() {
    spool="$STATE/spool/src"
    if [ -d "$spool" ]; then
        flock -w 60 "$spool/.lock" true 2>/dev/null || true
        rm -rf "$spool"
    fi
}

# pgBackRest's PITR to TARGET_PG into $D/pitr-p, run N (1 or 2): restore, then
# start and poll until promoted. Sets P_PITR_N, P_PITR_RES_N, P_PITR_REPLAY_N,
# P_PITR_RSS, P_PITR_SET and P_STATE (history rows|markers).
pgbr_pitr() {
    wait_spool_idle
    rm -rf "$D/pitr-p"
    install -d -o postgres -g postgres -m 700 "$D/pitr-p"
    sync
    measure "${ds}_pgbackrest_pitr_restore_$1" runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench \
        --pg1-path="$D/pitr-p" restore --type=time "--target=$TARGET_PG" --target-action=promote
    eval "P_PITR_RES_$1=\$SECS"
    P_PITR_RSS=$RSS_KB
    P_PITR_SET=$(grep -o 'restore backup set [^,]*' "$D/pgbr-log/bench-restore.log" | tail -n 1 | sed 's/restore backup set //')
    port=$(free_port)
    echo "$D/pitr-p" >>"$RUN/started"
    measure "${ds}_pgbackrest_pitr_replay_$1" runuser -u postgres -- "$RUN/start-promoted.sh" "$D/pitr-p" "$port"
    eval "P_PITR_REPLAY_$1=\$SECS"
    eval "P_PITR_$1=\$(add \"\$P_PITR_RES_$1\" \"\$P_PITR_REPLAY_$1\")"
    P_STATE=$(check_state "$port")
    stop_pg "$D/pitr-p"
    case $P_STATE in *'|before') ;; *) die "pgBackRest's PITR stopped at the wrong place: $P_STATE" ;; esac
}

# radiant's PITR to TARGET_ISO into a new cluster ID, measured as ROW: checks
# that it restored backup BID and reached the state pgBackRest's did, then
# deletes the cluster. Leaves SECS and RSS_KB as measure sets them.
radiant_pitr_into() { # ROW ID BID
    wait_spool_idle
    port=$(free_port)
    echo "$STATE/clusters/$2/data" >>"$RUN/started"
    sync
    measure "$1" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json db restore-db-cluster-to-point-in-time \
        --source-db-cluster-identifier src --db-cluster-identifier "$2" --port "$port" --restore-to-time "$TARGET_ISO"
    [ "$(restored_from "$2")" = "$3" ] || die "radiant's PITR $2 did not restore from backup $3"
    R_STATE=$(check_state "$port")
    [ "$R_STATE" = "$P_STATE" ] || die "radiant's PITR $2 state $R_STATE differs from pgBackRest's $P_STATE"
    rad db delete-db-cluster --db-cluster-identifier "$2" --skip-final-snapshot >/dev/null
}

# radiant's PITR from the pre-pgbench snapshot, run N. Sets R_PITR_N and
# R_PITR_RSS.
radiant_pitr() {
    radiant_pitr_into "${ds}_radiant_pitr_$1" "pitr$1" "$R_BASE_BID"
    eval "R_PITR_$1=\$SECS"
    R_PITR_RSS=$RSS_KB
}

# radiant's PITR from the snapshot taken halfway through pgbench; then that
# snapshot is deleted, so that radiant_pitr starts from the same base backup
# as pgBackRest. Sets R_PITR_H.
radiant_pitr_halfway() {
    radiant_pitr_into "${ds}_radiant_pitr_halfway" pitr-halfway "$R_HALF_BID"
    R_PITR_H=$SECS
    rad db delete-db-cluster-snapshot --db-cluster-snapshot-identifier halfway >/dev/null
}

run_dataset() {
    ds=$1
    D="$RUN/$ds"
    STATE="$D/state"
    CONF="$D/radiant.conf"
    mkdir -p "$D"
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/pass"
    pass_line=''
    [ "$BENCH_ENCRYPT" = 1 ] && pass_line="passphrase-file = $D/pass"
    cat >"$CONF" <<EOF
[radiant]
state-dir = $STATE
run-as = postgres

[repo main]
path = $D/repo
$pass_line

[repo walpush]
path = $D/repo-walpush
$pass_line

[repo walpush-enc]
path = $D/repo-walpush-enc
passphrase-file = $D/pass

[repo walarch]
path = $D/repo-walarch
$pass_line

; the WAL archived through PostgreSQL's archiver in (f)
[cluster pushtest]
repos = walarch
EOF
    chown -R postgres:postgres "$D"
    chmod 600 "$D/pass"
    rad() { as_pg "$RADIANT" --config "$CONF" --output json "$@"; }
    rad repo init --repo main >/dev/null || die "repo init failed"
    rad repo init --repo walpush >/dev/null || die "repo init failed"
    rad repo init --repo walpush-enc >/dev/null || die "repo init failed"
    rad repo init --repo walarch >/dev/null || die "repo init failed"

    note "[$ds] creating the source cluster and loading pgbench scale $BENCH_SCALE"
    SRC_PORT=$(free_port)
    SRC_DATA="$STATE/clusters/src/data"
    echo "$SRC_DATA" >>"$RUN/started"
    rad db create-db-cluster --db-cluster-identifier src --port "$SRC_PORT" --repos main >/dev/null ||
        die "create-db-cluster failed"
    # Both tools archive the source's WAL, through one archive_command (the
    # archive module radiant sets up cannot be chained with pgBackRest's).
    RAD_ARCHIVE="'$RADIANT' --config '$CONF' wal push --db-cluster-identifier src %p"
    # the initial load is not archived (neither tool has a backup yet)
    sql "$SRC_PORT" "ALTER SYSTEM RESET archive_library" >/dev/null
    sql "$SRC_PORT" "ALTER SYSTEM SET archive_command = '/bin/true'" >/dev/null
    sql "$SRC_PORT" "SELECT pg_reload_conf()" >/dev/null
    t0=$(now)
    load_data "$SRC_PORT" "$ds"
    LOAD_SECS=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
    DB_BYTES=$(sql "$SRC_PORT" "SELECT sum(pg_database_size(oid)) FROM pg_database")

    note "[$ds] pgBackRest stanza; archive_command = radiant wal push && pgbackrest archive-push"
    PGBR_CONF="$D/pgbackrest.conf"
    cat >"$PGBR_CONF" <<EOF
[global]
repo1-path=$D/pgbr-repo
repo1-retention-full=99
log-path=$D/pgbr-log
lock-path=$D/pgbr-lock
spool-path=$D/pgbr-spool
compress-type=zst
process-max=2
archive-async=n
start-fast=y
log-level-console=warn
log-level-file=debug

[bench]
pg1-path=$SRC_DATA
pg1-port=$SRC_PORT
pg1-socket-path=$STATE/clusters/src/run
pg1-user=postgres

[push]
pg1-path=$SRC_DATA
pg1-port=$SRC_PORT
pg1-socket-path=$STATE/clusters/src/run
pg1-user=postgres

[push-enc]
pg1-path=$SRC_DATA
pg1-port=$SRC_PORT
pg1-socket-path=$STATE/clusters/src/run
pg1-user=postgres
repo1-path=$D/pgbr-push-enc-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$(cat "$D/pass")
EOF
    mkdir -p "$D/pgbr-repo" "$D/pgbr-log" "$D/pgbr-lock" "$D/pgbr-spool" "$D/pgbr-push-repo" "$D/pgbr-push-enc-repo" "$D/pgbr-arch-repo" "$D/wal"
    chown -R postgres:postgres "$D"
    chmod 600 "$PGBR_CONF"
    pgbr() { as_pg pgbackrest --config="$PGBR_CONF" --stanza=bench "$@"; }
    pgbr stanza-create >/dev/null || die "pgbackrest stanza-create failed"
    as_pg pgbackrest --config="$PGBR_CONF" --stanza=push --repo1-path="$D/pgbr-push-repo" stanza-create >/dev/null ||
        die "pgbackrest stanza-create (push) failed"
    as_pg pgbackrest --config="$PGBR_CONF" --stanza=push-enc stanza-create >/dev/null ||
        die "pgbackrest stanza-create (push-enc) failed"
    as_pg pgbackrest --config="$PGBR_CONF" --stanza=push --repo1-path="$D/pgbr-arch-repo" stanza-create >/dev/null ||
        die "pgbackrest stanza-create (archiver) failed"
    both="$RAD_ARCHIVE && pgbackrest --config=$PGBR_CONF --stanza=bench archive-push %p"
    printf "ALTER SYSTEM SET archive_command = :'cmd';\nSELECT pg_reload_conf();\n" |
        psql -X -h 127.0.0.1 -p "$SRC_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 -v cmd="$both" >/dev/null ||
        die "cannot set archive_command"
    wait_archived "$SRC_PORT"

    # ------------------------------------------------------- full backups --
    note "[$ds] full backups"
    sync
    measure "${ds}_radiant_full" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json db create-db-cluster-snapshot \
        --db-cluster-identifier src --db-cluster-snapshot-identifier full
    R_FULL=$SECS R_FULL_RSS=$RSS_KB R_FULL_CPU=$CPU
    R_FULL_BID=$(json "$RUN/${ds}_radiant_full.out" 'd["DBClusterSnapshot"]["BackupId"]')
    R_FULL_BYTES=$(json "$RUN/${ds}_radiant_full.out" 'd["DBClusterSnapshot"]["AllocatedStorage"]')
    sync
    log="$D/pgbr-log/bench-backup.log"
    skip=0; [ -f "$log" ] && skip=$(wc -l <"$log")
    measure "${ds}_pgbackrest_full" runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench backup --type=full
    P_FULL=$SECS P_FULL_RSS=$RSS_KB P_FULL_CPU=$CPU
    P_COPY=$(pgbr_copy_phase "$log" "$skip")
    pgbr --output=json info >"$RUN/${ds}_pgbr_info.json"
    P_FULL_LABEL=$(json "$RUN/${ds}_pgbr_info.json" 'd[0]["backup"][-1]["label"]')
    P_FULL_BYTES=$(json "$RUN/${ds}_pgbr_info.json" 'd[0]["backup"][-1]["info"]["size"]')
    R_REPO=$(tree_bytes "$D/repo")
    P_REPO=$(tree_bytes "$D/pgbr-repo")

    note "[$ds] unchanged re-backups (radiant: a second snapshot; pgBackRest: --type=incr)"
    sync
    measure "${ds}_radiant_rebackup" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json db create-db-cluster-snapshot \
        --db-cluster-identifier src --db-cluster-snapshot-identifier again
    R_RE=$SECS R_RE_RSS=$RSS_KB
    R_BASE_LSN=$(json "$RUN/${ds}_radiant_rebackup.out" 'd["DBClusterSnapshot"]["StartLSN"]')
    R_BASE_BID=$(json "$RUN/${ds}_radiant_rebackup.out" 'd["DBClusterSnapshot"]["BackupId"]')
    sync
    measure "${ds}_pgbackrest_incr" runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench backup --type=incr
    P_RE=$SECS P_RE_RSS=$RSS_KB

    # ------------------------------------------------------------ restores --
    note "[$ds] restores of the full backups (each tool twice, alternating)"
    # As for the PITR, the faster of two runs: the first restore of a run
    # writes into memory the guest touches for the first time, which costs
    # more on this VM whichever tool comes first.
    for round in 1 2; do
        sync
        measure "${ds}_radiant_restore_$round" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json repo restore-dir \
            --repo main --backup "$R_FULL_BID" --target "$D/restore-r"
        eval "R_RES_$round=\$SECS R_RES_RSS_$round=\$RSS_KB"
        R_RES_BYTES=$(json "$RUN/${ds}_radiant_restore_$round.out" 'd["restore"]["bytes"]')
        cmp -s "$D/restore-r/PG_VERSION" "$SRC_DATA/PG_VERSION" || die "radiant restore-dir: PG_VERSION differs"
        rm -rf "$D/restore-r"

        rm -rf "$D/restore-p"
        install -d -o postgres -g postgres -m 700 "$D/restore-p"
        sync
        measure "${ds}_pgbackrest_restore_$round" runuser -u postgres -- pgbackrest --config="$PGBR_CONF" --stanza=bench \
            --pg1-path="$D/restore-p" --set="$P_FULL_LABEL" restore --type=immediate --target-action=promote
        eval "P_RES_$round=\$SECS P_RES_RSS_$round=\$RSS_KB"
    done
    R_RES=$(least "$R_RES_1" "$R_RES_2") P_RES=$(least "$P_RES_1" "$P_RES_2")
    R_RES_RSS=$(greatest "$R_RES_RSS_1" "$R_RES_RSS_2") P_RES_RSS=$(greatest "$P_RES_RSS_1" "$P_RES_RSS_2")
    P_RES_BYTES=$(tree_bytes "$D/restore-p")
    port=$(free_port)
    echo "$D/restore-p" >>"$RUN/started"
    measure "${ds}_pgbackrest_restore_start" runuser -u postgres -- "$RUN/start-promoted.sh" "$D/restore-p" "$port"
    P_RES_START=$SECS
    [ "$(sql "$port" "SELECT count(*) FROM pgbench_branches")" = "$BENCH_SCALE" ] ||
        die "pgBackRest's restored cluster lacks pgbench_branches rows"
    stop_pg "$D/restore-p"

    port=$(free_port)
    echo "$STATE/clusters/fromsnap/data" >>"$RUN/started"
    sync
    measure "${ds}_radiant_restore_cluster" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json db restore-db-cluster-from-snapshot \
        --snapshot-identifier full --db-cluster-identifier fromsnap --port "$port"
    R_RES_CL=$SECS
    [ "$(sql "$port" "SELECT count(*) FROM pgbench_branches")" = "$BENCH_SCALE" ] ||
        die "radiant's restored cluster lacks pgbench_branches rows"
    rad db delete-db-cluster --db-cluster-identifier fromsnap --skip-final-snapshot >/dev/null
    wait_spool_idle

    # --------------------------------------------------------- WAL to replay --
    note "[$ds] pgbench for $BENCH_WAL_SECS s at full speed ($BENCH_CLIENTS clients); a radiant snapshot halfway"
    pgbench -n -c "$BENCH_CLIENTS" -j 2 -T "$BENCH_WAL_SECS" -h 127.0.0.1 -p "$SRC_PORT" -U postgres postgres \
        >"$RUN/${ds}_pgbench.log" 2>&1 &
    PGBENCH_PID=$!
    sleep $((BENCH_WAL_SECS / 2))
    measure "${ds}_radiant_halfway" runuser -u postgres -- "$RADIANT" --config "$CONF" --output json db create-db-cluster-snapshot \
        --db-cluster-identifier src --db-cluster-snapshot-identifier halfway
    R_HALF=$SECS
    R_HALF_BID=$(json "$RUN/${ds}_radiant_halfway.out" 'd["DBClusterSnapshot"]["BackupId"]')
    R_HALF_LSN=$(json "$RUN/${ds}_radiant_halfway.out" 'd["DBClusterSnapshot"]["StartLSN"]')
    wait "$PGBENCH_PID" || { cat "$RUN/${ds}_pgbench.log" >&2; die "pgbench failed"; }
    PGBENCH_PID=''
    TPS=$(awk '/^tps/ { printf "%.0f", $3; exit }' "$RUN/${ds}_pgbench.log")
    rad repo list --repo main >"$RUN/${ds}_list.json"
    R_HALF_NEW=$(json "$RUN/${ds}_list.json" "[b for b in d['backups'] if b['id'] == '$R_HALF_BID'][0]['new_stored_bytes']")

    # The target: a whole second after the last pgbench commit and one marker
    # row, and before a second marker row (recovery stops at the first commit
    # after the target, so one must exist).
    sql "$SRC_PORT" "INSERT INTO bench_marker(tag) VALUES ('before')" >/dev/null
    TARGET_LSN=$(sql "$SRC_PORT" "SELECT pg_current_wal_lsn()")
    T=$(( $(date +%s) + 1 ))
    while [ "$(date +%s)" -le "$T" ]; do sleep 0.1; done
    sql "$SRC_PORT" "INSERT INTO bench_marker(tag) VALUES ('after')" >/dev/null
    note "[$ds] waiting until the WAL is archived by both tools"
    wait_archived "$SRC_PORT"
    TARGET_ISO=$(date -u -d "@$T" +%Y-%m-%dT%H:%M:%SZ)
    TARGET_PG=$(date -u -d "@$T" '+%Y-%m-%d %H:%M:%S+00')
    WAL_BYTES=$(sql "$SRC_PORT" "SELECT pg_wal_lsn_diff('$TARGET_LSN', '$R_BASE_LSN')::bigint")
    WAL_HALF_BYTES=$(sql "$SRC_PORT" "SELECT pg_wal_lsn_diff('$TARGET_LSN', '$R_HALF_LSN')::bigint")

    # ------------------------------------------------- point-in-time restores --
    # Each tool's PITR from the pre-pgbench backup runs twice, alternating
    # (pgBackRest, radiant, pgBackRest, radiant), and the faster run of each
    # is the row: on this VM one run can be 30 % slower than the next for
    # reasons outside either tool (see "How to read the numbers").
    note "[$ds] point-in-time restores to $TARGET_ISO (each tool twice, alternating)"
    pgbr_pitr 1
    radiant_pitr_halfway
    radiant_pitr 1
    pgbr_pitr 2
    radiant_pitr 2
    if awk -v a="$P_PITR_2" -v b="$P_PITR_1" 'BEGIN { exit !(a < b) }'; then
        P_PITR=$P_PITR_2 P_PITR_RES=$P_PITR_RES_2 P_PITR_REPLAY=$P_PITR_REPLAY_2
    else
        P_PITR=$P_PITR_1 P_PITR_RES=$P_PITR_RES_1 P_PITR_REPLAY=$P_PITR_REPLAY_1
    fi
    R_PITR=$(least "$R_PITR_1" "$R_PITR_2")

    # ------------------------------------------------- WAL push and get --
    nseg=$(( WAL_BYTES / SEG - 2 ))
    [ "$nseg" -gt "$BENCH_WAL_SEGMENTS" ] && nseg=$BENCH_WAL_SEGMENTS
    [ "$nseg" -ge 1 ] || die "too little WAL for the push test; raise BENCH_WAL_SECS"
    SEGS=$(sql "$SRC_PORT" "SELECT string_agg(pg_walfile_name('$TARGET_LSN'::pg_lsn - (i * $SEG)::numeric), ' ' ORDER BY i DESC) FROM generate_series(1, $nseg) i")
    note "[$ds] WAL get and push, $nseg full segments one by one"
    mkdir -p "$D/wal/r" "$D/wal/p"
    chown -R postgres:postgres "$D/wal"
    cat >"$D/wal/get-r.sh" <<EOF
for s in $SEGS; do "$RADIANT" --config "$CONF" wal fetch --db-cluster-identifier src --prefetch 0 "\$s" "$D/wal/r/\$s" || exit 1; done
EOF
    cat >"$D/wal/get-p.sh" <<EOF
for s in $SEGS; do pgbackrest --config="$PGBR_CONF" --stanza=bench archive-get "\$s" "$D/wal/p/\$s" || exit 1; done
EOF
    cat >"$D/wal/push-r.sh" <<EOF
for s in $SEGS; do "$RADIANT" --config "$CONF" wal push --db-cluster-identifier pushtest --repo walpush "$D/wal/r/\$s" || exit 1; done
EOF
    cat >"$D/wal/push-p.sh" <<EOF
for s in $SEGS; do pgbackrest --config="$PGBR_CONF" --stanza=push --repo1-path="$D/pgbr-push-repo" archive-push "$D/wal/p/\$s" || exit 1; done
EOF
    cat >"$D/wal/push-r-enc.sh" <<EOF
for s in $SEGS; do "$RADIANT" --config "$CONF" wal push --db-cluster-identifier pushtest --repo walpush-enc "$D/wal/r/\$s" || exit 1; done
EOF
    cat >"$D/wal/push-p-enc.sh" <<EOF
for s in $SEGS; do pgbackrest --config="$PGBR_CONF" --stanza=push-enc archive-push "$D/wal/p/\$s" || exit 1; done
EOF
    sync
    measure "${ds}_radiant_wal_get" runuser -u postgres -- sh "$D/wal/get-r.sh"
    R_GET=$SECS R_GET_RSS=$RSS_KB
    measure "${ds}_pgbackrest_wal_get" runuser -u postgres -- sh "$D/wal/get-p.sh"
    P_GET=$SECS P_GET_RSS=$RSS_KB
    for s in $SEGS; do
        cmp -s "$D/wal/r/$s" "$D/wal/p/$s" || die "segment $s differs between the tools"
    done
    sync
    measure "${ds}_radiant_wal_push" runuser -u postgres -- sh "$D/wal/push-r.sh"
    R_PUSH=$SECS R_PUSH_RSS=$RSS_KB
    sync
    measure "${ds}_pgbackrest_wal_push" runuser -u postgres -- sh "$D/wal/push-p.sh"
    P_PUSH=$SECS P_PUSH_RSS=$RSS_KB
    sync
    measure "${ds}_radiant_wal_push_enc" runuser -u postgres -- sh "$D/wal/push-r-enc.sh"
    R_PUSH_ENC=$SECS
    sync
    measure "${ds}_pgbackrest_wal_push_enc" runuser -u postgres -- sh "$D/wal/push-p-enc.sh"
    P_PUSH_ENC=$SECS
    ms() { awk -v s="$1" -v n="$nseg" 'BEGIN { printf "%.0f", s / n * 1000 }'; }

    # The same segments through PostgreSQL's archiver, which is what a
    # cluster waits on: radiant's archive module (what create-db-cluster
    # sets up), radiant's archive_command and pgBackRest's archive_command,
    # twice each in turn, on the idle source cluster.
    note "[$ds] WAL archiving through PostgreSQL's archiver, $nseg segments, 2 rounds"
    for round in 1 2; do
        archiver_round library; eval "R_ARCH_LIB_$round=\$SECS"
        archiver_round command; eval "R_ARCH_CMD_$round=\$SECS"
        archiver_round pgbackrest; eval "P_ARCH_$round=\$SECS"
    done
    R_ARCH_LIB=$(least "$R_ARCH_LIB_1" "$R_ARCH_LIB_2")
    R_ARCH_CMD=$(least "$R_ARCH_CMD_1" "$R_ARCH_CMD_2")
    P_ARCH=$(least "$P_ARCH_1" "$P_ARCH_2")

    R_REPO_END=$(tree_bytes "$D/repo")
    P_REPO_END=$(tree_bytes "$D/pgbr-repo")

    # -------------------------------------------------------------- report --
    P_COPY_MBS=$(mbs "$P_FULL_BYTES" "$P_COPY")
    R_RES_MBS=$(mbs "$R_RES_BYTES" "$R_RES")
    P_RES_CL=$(add "$P_RES" "$P_RES_START")
    RES_SPEEDUP=$(ratio "$P_RES" "$R_RES")
    RES_VS_DD=$(ratio "$R_RES_MBS" "$DD_MBS")
    cat >>"$RUN/report" <<EOF

### data set: $ds

pgbench scale $BENCH_SCALE$( [ "$ds" = random ] && echo ", pgbench_accounts.filler = 84 characters of base64 text per row" ),
$(mb "$DB_BYTES") MB in all databases, loaded in ${LOAD_SECS} s. pgbench -c $BENCH_CLIENTS -j 2 for ${BENCH_WAL_SECS} s ran at $TPS tps
and wrote $(mb "$WAL_BYTES") MB of WAL from the base backup to the target ($TARGET_ISO).
"x faster" is pgBackRest's time divided by radiant's.

| metric | radiant | $PGBR_VERSION | ratio | target | pass/fail |
|---|---|---|---|---|---|
| (a) full backup, wall | ${R_FULL} s ($(mbs "$R_FULL_BYTES" "$R_FULL") MB/s of $(mb "$R_FULL_BYTES") MB, CPU ${R_FULL_CPU} s) | ${P_FULL} s ($(mbs "$P_FULL_BYTES" "$P_FULL") MB/s of $(mb "$P_FULL_BYTES") MB, CPU ${P_FULL_CPU} s) | $(ratio "$P_FULL" "$R_FULL")x faster | >= 1.5x | $(verdict "$P_FULL / $R_FULL >= 1.5") |
| (a) full backup vs pgBackRest's copy phase | ${R_FULL} s | ${P_COPY} s ($P_COPY_MBS MB/s; start/stop $(awk -v a="$P_FULL" -v b="$P_COPY" 'BEGIN { printf "%.2f", a - b }') s) | $(ratio "$P_COPY" "$R_FULL")x faster | > 1x | $(verdict "$R_FULL < $P_COPY") |
| (a) full backup peak RSS | $(rss_mb "$R_FULL_RSS") MB | $(rss_mb "$P_FULL_RSS") MB | - | - | info |
| (b) unchanged re-backup (radiant: snapshot; pgBackRest: incr) | ${R_RE} s ($(rss_mb "$R_RE_RSS") MB RSS) | ${P_RE} s ($(rss_mb "$P_RE_RSS") MB RSS) | $(ratio "$P_RE" "$R_RE")x faster | - | info |
| (c) repository size after both full backups | $(mb "$R_REPO") MB | $(mb "$P_REPO") MB | $(ratio "$R_REPO" "$P_REPO") | <= 1.00 | $(verdict "$R_REPO <= $P_REPO") |
| (d) restore of the full backup (files, fsynced), faster of 2 runs | ${R_RES} s ($R_RES_MBS MB/s = $RES_VS_DD x dd $DD_MBS MB/s; runs: ${R_RES_1}, ${R_RES_2} s) | ${P_RES} s ($(mbs "$P_RES_BYTES" "$P_RES") MB/s; runs: ${P_RES_1}, ${P_RES_2} s) | ${RES_SPEEDUP}x faster | >= 1.5x or >= 0.90 x dd | $(verdict "$RES_SPEEDUP >= 1.5 || $RES_VS_DD >= 0.90") |
| (d) restore peak RSS | $(rss_mb "$R_RES_RSS") MB | $(rss_mb "$P_RES_RSS") MB | - | - | info |
| (d) restore to a running, promoted cluster | ${R_RES_CL} s (restore-db-cluster-from-snapshot) | ${P_RES_CL} s (restore ${P_RES} s + start ${P_RES_START} s) | $(ratio "$P_RES_CL" "$R_RES_CL")x faster | - | info |
| (e) PITR, same base backup and target ($(mb "$WAL_BYTES") MB of WAL), faster of 2 runs | ${R_PITR} s (runs: ${R_PITR_1}, ${R_PITR_2} s; $(rss_mb "$R_PITR_RSS") MB RSS) | ${P_PITR} s (restore ${P_PITR_RES} s + replay ${P_PITR_REPLAY} s; runs: ${P_PITR_1}, ${P_PITR_2} s; $(rss_mb "$P_PITR_RSS") MB RSS) | $(ratio "$P_PITR" "$R_PITR")x faster | >= 1.5x | $(verdict "$P_PITR / $R_PITR >= 1.5") |
| (e) PITR from a base backup taken halfway ($(mb "$WAL_HALF_BYTES") MB of WAL) | ${R_PITR_H} s (that backup: ${R_HALF} s under load, $(mb "$R_HALF_NEW") MB new in the repository) | ${P_PITR} s (as above) | $(ratio "$P_PITR" "$R_PITR_H")x faster | - | info |
| (f) WAL archiving through PostgreSQL's archiver, per 16 MB segment ($nseg; radiant: archive module; faster of 2 rounds) | $(ms "$R_ARCH_LIB") ms (rounds: $(ms "$R_ARCH_LIB_1"), $(ms "$R_ARCH_LIB_2")) | $(ms "$P_ARCH") ms (rounds: $(ms "$P_ARCH_1"), $(ms "$P_ARCH_2")) | $(ratio "$P_ARCH" "$R_ARCH_LIB")x faster | >= 2x | $(verdict "$P_ARCH / $R_ARCH_LIB >= 2") |
| (f) the same, radiant through archive_command | $(ms "$R_ARCH_CMD") ms (rounds: $(ms "$R_ARCH_CMD_1"), $(ms "$R_ARCH_CMD_2")) | $(ms "$P_ARCH") ms | $(ratio "$P_ARCH" "$R_ARCH_CMD")x faster | - | info |
| (f) WAL push, per 16 MB segment ($nseg, one process each) | $(ms "$R_PUSH") ms ($(rss_mb "$R_PUSH_RSS") MB RSS) | $(ms "$P_PUSH") ms ($(rss_mb "$P_PUSH_RSS") MB RSS) | $(ratio "$P_PUSH" "$R_PUSH")x faster | - | info |
| (f) WAL push, both encrypted (radiant: passphrase-file; pgBackRest: aes-256-cbc) | $(ms "$R_PUSH_ENC") ms | $(ms "$P_PUSH_ENC") ms | $(ratio "$P_PUSH_ENC" "$R_PUSH_ENC")x faster | - | info |
| (f) WAL get, per 16 MB segment (radiant --prefetch 0) | $(ms "$R_GET") ms ($(rss_mb "$R_GET_RSS") MB RSS) | $(ms "$P_GET") ms ($(rss_mb "$P_GET_RSS") MB RSS) | $(ratio "$P_GET" "$R_GET")x faster | - | info |
| (c) repository size at the end (3 backups + WAL) | $(mb "$R_REPO_END") MB | $(mb "$P_REPO_END") MB | $(ratio "$R_REPO_END" "$P_REPO_END") | - | info |

pgBackRest restored backup set $P_PITR_SET for the PITR; both restored clusters hold $(echo "$P_STATE" | cut -d'|' -f1) pgbench_history rows and the marker row 'before' only.
EOF

    # the source cluster and this data set's files go before the next one
    stop_pg "$SRC_DATA"
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
}

for ds in $BENCH_DATASETS; do
    run_dataset "$ds"
done

# ------------------------------------------------------------------- report --

cat <<EOF

## radiant vs pgBackRest on PostgreSQL 15

- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), host: $(uname -n), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)
- cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
- radiant: $("$RADIANT" --version) ($( [ "$BENCH_ENCRYPT" = 1 ] && echo "encrypted repository" || echo "unencrypted repository" ), default threads);
  $PGBR_VERSION (compress-type=zst, process-max=2, archive-async=n, start-fast=y, log-level-file=debug, no encryption);
  PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }')
- filesystem: $(df -PT "$BENCH_DIR" | awk 'NR == 2 { print $2 " on " $1 }'); dd fsynced sequential write of 2 GiB: $DD_MBS MB/s (median of runs: $DD_ALL)
- warm cache: data, repositories and WAL are usually in the page cache; restores are fsynced.
EOF
cat "$RUN/report"
cat <<EOF

Run conditions (wall and CPU time of each command; "others" is the share of the
whole machine's CPU that other processes used meanwhile, which slows the run; for
the PITR, restore-cluster and start rows it includes the PostgreSQL server that
replays WAL, and for backups the source server and its archive_command):

| run | wall | CPU (user+sys) | others |
|---|---|---|---|
$(cat "$RUN/conditions")
EOF
busy=$(grep -v -e _pitr -e _restore_cluster -e _restore_start -e _halfway -e _full -e _rebackup -e _incr "$RUN/conditions" |
    awk -F'|' '{ gsub(/[ %]/, "", $5); if ($5 + 0 > m) m = $5 + 0 } END { print m + 0 }')
if [ "$busy" -gt 10 ]; then
    echo
    echo "WARNING: other processes used up to ${busy}% of the CPU during a run that should"
    echo "have had the machine to itself; the numbers above are lower than this machine can do."
fi
