#!/bin/sh
# Repository benchmark: radiant `repo backup-dir` / `restore-dir` on a 2 GiB
# PostgreSQL-like data directory, against the machine's physical limits
# (fsynced sequential write rate, single-core zstd -1 speed).
#
#   bench/repo.sh                      run from anywhere (or: make bench); see bench/README.md
#   BENCH_DIR=/path bench/repo.sh      where the data set is cached and the runs happen
#   BENCH_SCALING=0 bench/repo.sh      skip the extra --threads 1 backup
#   BENCH_WAIT_IDLE=600 bench/repo.sh  first wait up to 600 s for other processes to finish
#
# Run by hand, never in CI: it writes about 8 GB and takes a few minutes. The
# generated data set is kept in $BENCH_DIR/data for the next run; repositories,
# restores and the dd file are removed at the end. Runs are warm-cache: the data
# set is usually in the page cache (dropping caches is not required).
set -eu

die() { echo "bench/repo.sh: $*" >&2; exit 1; }
note() { echo "bench/repo.sh: $*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
RADIANT="$ROOT/build/radiant"
BENCH_DIR=${BENCH_DIR:-/var/tmp/radiant-bench}
BENCH_SCALING=${BENCH_SCALING:-1}
DATA_VERSION=1                      # bump when the generator or layout changes
DATA="$BENCH_DIR/data/pgdata"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# ------------------------------------------------------------- prerequisites --

for tool in cc zstd dd "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing; run scripts/install-deps as root"
done
if [ ! -x /usr/bin/time ]; then
    note "/usr/bin/time (Debian package 'time') is missing; it measures peak RSS"
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null ||
            die "apt-get install time failed"
    else
        die "install it with 'apt-get install -y time' (as root) and run again"
    fi
fi
if [ ! -x "$RADIANT" ]; then
    note "building $RADIANT"
    command -v cmake >/dev/null 2>&1 || die "cmake is missing; run scripts/install-deps as root"
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
        die "cmake configure failed"
    cmake --build "$ROOT/build" -j"$(nproc)" >/dev/null || die "build failed"
fi

mkdir -p "$BENCH_DIR" || die "cannot create BENCH_DIR $BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
DATA="$BENCH_DIR/data/pgdata"

# Space: data set (2.2 GB) + repository (~1.5 GB, twice with the scaling run)
# + restore (2.2 GB) + dd (2.1 GB), with margin.
need_gb=9
[ -f "$BENCH_DIR/data/.complete-v$DATA_VERSION" ] && need_gb=7
avail_kb=$(df -Pk "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
[ "$avail_kb" -ge $((need_gb * 1024 * 1024)) ] ||
    die "$BENCH_DIR has $((avail_kb / 1024 / 1024)) GiB free; the benchmark needs ${need_gb} GiB (set BENCH_DIR)"

RUN="$BENCH_DIR/run.$$"
cleanup() {
    rm -rf "$RUN" "$BENCH_DIR/dd.out" "$BENCH_DIR/data.tmp.$$"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$RUN"

now() { date +%s.%N; }
# elapsed START END -> seconds
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# mbs BYTES SECONDS -> MB/s (10^6 bytes)
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / 1e6 / s : 0) }'; }
# json FILE EXPR -> value of a Python expression over the document `d`
json() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }'; }
# busy and total clock ticks of all CPUs so far (user nice system idle iowait irq softirq steal)
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

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
        cat "$RUN/$name.err" >&2
        die "$name failed: $*"
    fi
    # shellcheck disable=SC2046
    set -- $(cpu_ticks) $(tail -n 1 "$RUN/$name.time")
    SECS=$3 CPU=$(awk -v u="$4" -v s="$5" 'BEGIN { printf "%.2f", u + s }') RSS_KB=$6
    OTHERS=$(awk -v b="$(( $1 - b0 ))" -v t="$(( $2 - t0 ))" -v hz="$CLK_TCK" -v c="$CPU" \
        'BEGIN { o = t > 0 ? (b - c * hz) / t * 100 : 0; printf "%.0f", (o < 0 ? 0 : o) }')
    printf '| %s | %s s | %s s | %s%% |\n' "$name" "$SECS" "$CPU" "$OTHERS" >>"$RUN/conditions"
}

# ---------------------------------------------------------------- data set --

# Pages like PostgreSQL heap pages: a 24-byte page header, then half random
# bytes (think bytea, hashes, packed numerics: incompressible) and half
# tuple-like text rows (compressible). Every page differs, so nothing
# deduplicates inside one backup, as in a real cluster.
write_generator() {
    cat >"$1" <<'EOF'
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 8192
#define HDR 24
#define HALF ((PAGE - HDR) / 2)

static uint64_t s[4];
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next(void)
{   /* xoshiro256** */
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return r;
}
static void seed(uint64_t v)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (v += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        s[i] = z ^ (z >> 31);
    }
}

static const char *const status[] = { "shipped", "pending", "delivered", "returned" };
static const char *const city[] = { "Lisbon", "Oslo", "Denver", "Osaka", "Nairobi", "Quito" };

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: gen FILE PAGES FILESEED\n");
        return 2;
    }
    unsigned long long pages = strtoull(argv[2], NULL, 10), fseed = strtoull(argv[3], NULL, 10);
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static unsigned char page[PAGE];
    unsigned long long row = fseed * 100000000ull;
    for (unsigned long long p = 0; p < pages; p++) {
        seed(fseed * 0x100000000ull + p);
        uint64_t lsn = 0x16B374D8ull + fseed * 0x1000000ull + p * 0x2000ull;
        memset(page, 0, HDR);
        memcpy(page, &lsn, 8);                           /* pd_lsn */
        uint16_t v16[] = { (uint16_t)next(), 0, 24 + 4 * 60, HDR + HALF, PAGE, PAGE | 4 };
        memcpy(page + 8, v16, sizeof v16);               /* checksum, flags, lower, upper... */
        uint32_t xid = 731 + (uint32_t)p;
        memcpy(page + 20, &xid, 4);                      /* pd_prune_xid */
        for (size_t i = HDR; i + 8 <= HDR + HALF; i += 8) {
            uint64_t r = next();
            memcpy(page + i, &r, 8);
        }
        char *t = (char *)page + HDR + HALF;
        size_t left = PAGE - HDR - HALF, used = 0;
        while (used < left) {
            char line[200];
            uint64_t r = next();
            int n = snprintf(line, sizeof line,
                             "%010llu|customer_%06u|%s|2024-%02u-%02u|%s|amount=%u.%02u|"
                             "sku=AB-%04u|qty=%u;",
                             row++, (unsigned)(r % 1000000), city[(r >> 20) % 6],
                             (unsigned)((r >> 24) % 12 + 1), (unsigned)((r >> 28) % 28 + 1),
                             status[(r >> 32) % 4], (unsigned)((r >> 34) % 5000),
                             (unsigned)((r >> 46) % 100), (unsigned)((r >> 40) % 10000),
                             (unsigned)((r >> 56) % 9 + 1));
            size_t k = (size_t)n < left - used ? (size_t)n : left - used;
            memcpy(t + used, line, k);
            used += k;
        }
        if (fwrite(page, PAGE, 1, f) != 1) {
            perror(argv[1]);
            return 1;
        }
    }
    if (fclose(f) != 0) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
EOF
}

generate_data() {
    tmp="$BENCH_DIR/data.tmp.$$"
    rm -rf "$tmp" "$BENCH_DIR/data"
    mkdir -p "$tmp/pgdata"
    write_generator "$BENCH_DIR/gen-pgdata.c"
    cc -O2 -o "$BENCH_DIR/gen-pgdata" "$BENCH_DIR/gen-pgdata.c" || die "cannot compile the data generator"
    gen="$BENCH_DIR/gen-pgdata"
    d="$tmp/pgdata"
    mkdir -p "$d/base/1" "$d/base/4" "$d/base/5" "$d/base/16384" "$d/global" "$d/pg_wal/archive_status" \
        "$d/pg_xact" "$d/pg_multixact/members" "$d/pg_multixact/offsets" "$d/pg_stat" \
        "$d/pg_stat_tmp" "$d/pg_tblspc" "$d/pg_snapshots" "$d/pg_logical/snapshots" \
        "$d/pg_subtrans" "$d/pg_twophase" "$d/pg_notify" "$d/pg_replslot" "$d/pg_serial" \
        "$d/pg_commit_ts" "$d/pg_dynshmem"
    echo 15 >"$d/PG_VERSION"
    for db in 1 4 5 16384; do echo 15 >"$d/base/$db/PG_VERSION"; done
    printf "listen_addresses = 'localhost'\nport = 5432\nshared_buffers = 128MB\nwal_level = replica\narchive_mode = on\narchive_command = 'radiant wal push %%p'\nmax_wal_size = 1GB\n" >"$d/postgresql.conf"
    printf "# TYPE DATABASE USER ADDRESS METHOD\nlocal all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n" >"$d/pg_hba.conf"
    printf "# MAPNAME SYSTEM-USERNAME PG-USERNAME\n" >"$d/pg_ident.conf"
    printf "# Do not edit this file manually!\n" >"$d/postgresql.auto.conf"
    printf "/usr/lib/postgresql/15/bin/postgres \"-D\" \"/var/lib/postgresql/15/main\"\n" >"$d/postmaster.opts"

    # big relation: a 1 GiB segment and its continuation, then smaller relations
    "$gen" "$d/base/16384/16385" 131072 1 & p1=$!
    "$gen" "$d/base/16384/16385.1" 65536 2 & p2=$!
    wait $p1 || die "generating 16385 failed"
    wait $p2 || die "generating 16385.1 failed"
    fseed=3
    for spec in 16390:32768 16395:16384 16400:8192 16405:4096; do
        "$gen" "$d/base/16384/${spec%%:*}" "${spec#*:}" $fseed; fseed=$((fseed + 1))
        "$gen" "$d/base/16384/${spec%%:*}_fsm" 3 $fseed; fseed=$((fseed + 1))
        "$gen" "$d/base/16384/${spec%%:*}_vm" 1 $fseed; fseed=$((fseed + 1))
    done
    # catalogs and small tables/indexes: 8 KiB to 1 MiB, in every database
    for db in 1 4 5 16384; do
        i=0
        while [ $i -lt 40 ]; do
            "$gen" "$d/base/$db/$((1247 + i * 7))" $(((i * 37) % 128 + 1)) $fseed
            fseed=$((fseed + 1)); i=$((i + 1))
        done
    done
    for f in 1213 1260 1261 1262 2396 2671 2672 2676 2677 2694 2695 2964 2965 3592 4060 6000 6100; do
        "$gen" "$d/global/$f" 2 $fseed; fseed=$((fseed + 1))
    done
    "$gen" "$d/global/pg_control" 1 $fseed; fseed=$((fseed + 1))
    "$gen" "$d/pg_xact/0000" 4 $fseed; fseed=$((fseed + 1))
    "$gen" "$d/pg_multixact/offsets/0000" 1 $fseed; fseed=$((fseed + 1))
    "$gen" "$d/pg_multixact/members/0000" 1 $fseed; fseed=$((fseed + 1))
    "$gen" "$d/pg_wal/000000010000000000000016" 2048 $fseed; fseed=$((fseed + 1))
    "$gen" "$d/pg_wal/000000010000000000000017" 2048 $fseed; fseed=$((fseed + 1))
    : >"$d/pg_wal/archive_status/000000010000000000000016.done"
    ln -s ../base/16384 "$d/pg_tblspc/16384-link"

    touch "$tmp/.complete-v$DATA_VERSION"
    mv "$tmp" "$BENCH_DIR/data"
}

if [ -f "$BENCH_DIR/data/.complete-v$DATA_VERSION" ] && [ -d "$DATA" ]; then
    note "using the cached data set in $DATA"
    GEN_SECS="earlier, cached"
else
    note "generating the data set in $DATA (once)"
    t0=$(now)
    generate_data
    GEN_SECS="$(elapsed "$t0" "$(now)") s"
    note "generated in $GEN_SECS"
fi
DATA_BYTES=$(tree_bytes "$DATA")
DATA_FILES=$(find "$DATA" -type f | wc -l)
BIG_FILE="$DATA/base/16384/16385"

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

# --------------------------------------------------------------- anchors --

# The disk's rate varies from run to run, a lot in a VM (the first write into
# memory the guest has not touched lately costs far more CPU than a rewrite of
# recently freed page cache): the anchor is the median of three runs.
note "(a) dd: fsynced sequential write of 2 GiB, median of 3"
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

note "(b) zstd -1 -T1 on one 1 GiB data file"
cat "$BIG_FILE" >/dev/null          # same warm cache as radiant gets
measure zstd zstd -1 -T1 -c "$BIG_FILE"
ZSTD_SECS=$SECS
ZSTD_MBS=$(mbs "$(stat -c %s "$BIG_FILE")" "$ZSTD_SECS")
ZSTD_RATIO=$(awk -v n="$(stat -c %s "$BIG_FILE")" -v c="$(stat -c %s "$RUN/zstd.out")" 'BEGIN { printf "%.2f", n / c }')
rm -f "$RUN/zstd.out"

# ------------------------------------------------------------------ radiant --

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/pass"
cat >"$RUN/radiant.conf" <<EOF
[radiant]
state-dir = state

[repo bench]
path = repo
passphrase-file = pass

[repo bench1]
path = repo1
passphrase-file = pass
EOF
CONF="$RUN/radiant.conf"

# run NAME ARGS...: radiant with JSON output (in $RUN/NAME.out) under measure
run() {
    name=$1; shift
    sync                            # earlier writes are not this command's to flush
    measure "$name" "$RADIANT" --config "$CONF" --output json "$@"
}

# The first backup and the restore run twice each, and the faster run is the
# row (as dd is the median of 3): on this VM the first command after another
# freed much memory pays for the host handing it back, whichever tool it is.
note "(c) backup-dir into a fresh encrypted repository (default threads), twice"
"$RADIANT" --config "$CONF" repo init --repo bench1 >/dev/null || die "repo init failed"
run backup1a repo backup-dir --repo bench1 --path "$DATA"
B1A_SECS=$SECS B1A_RSS=$RSS_KB B1A_CPU=$CPU
rm -rf "$RUN/repo1"
"$RADIANT" --config "$CONF" repo init --repo bench >/dev/null || die "repo init failed"
run backup1 repo backup-dir --repo bench --path "$DATA"
B1_SECS=$SECS B1_RSS=$RSS_KB B1_CPU=$CPU
B1_RUNS="$B1A_SECS, $B1_SECS s"
if awk -v a="$B1A_SECS" -v b="$B1_SECS" 'BEGIN { exit !(a < b) }'; then
    B1_SECS=$B1A_SECS B1_RSS=$B1A_RSS B1_CPU=$B1A_CPU
fi
B1_LOGICAL=$(json "$RUN/backup1.out" 'd["backup"]["logical_bytes"]')
B1_STORED=$(json "$RUN/backup1.out" 'd["backup"]["new_stored_bytes"]')
B1_INTERNAL=$(json "$RUN/backup1.out" 'd["backup"]["duration_seconds"]')
B1_MBS=$(mbs "$B1_LOGICAL" "$B1_SECS")
REPO_BYTES=$(tree_bytes "$RUN/repo")

note "(d) unchanged re-backup"
run backup2 repo backup-dir --repo bench --path "$DATA"
B2_SECS=$SECS B2_RSS=$RSS_KB
B2_NEW=$(json "$RUN/backup2.out" 'd["backup"]["new_raw_bytes"]')
B2_MBS=$(mbs "$B1_LOGICAL" "$B2_SECS")
SPEEDUP=$(awk -v a="$B1_SECS" -v b="$B2_SECS" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')

note "(d) unchanged re-backup with --read-all (every file read, chunked, hashed, deduplicated)"
run backup3 repo backup-dir --repo bench --path "$DATA" --read-all
B3_SECS=$SECS B3_RSS=$RSS_KB B3_CPU=$CPU
B3_NEW=$(json "$RUN/backup3.out" 'd["backup"]["new_raw_bytes"]')
B3_MBS=$(mbs "$B1_LOGICAL" "$B3_SECS")
SPEEDUP3=$(awk -v a="$B1_SECS" -v b="$B3_SECS" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')

note "(e) restore-dir into a fresh directory (includes the final syncfs), twice"
run restore_a repo restore-dir --repo bench --backup latest --target "$RUN/restore"
RA_SECS=$SECS RA_RSS=$RSS_KB
rm -rf "$RUN/restore"
run restore repo restore-dir --repo bench --backup latest --target "$RUN/restore"
R_SECS=$SECS R_RSS=$RSS_KB
R_RUNS="$RA_SECS, $R_SECS s"
if awk -v a="$RA_SECS" -v b="$R_SECS" 'BEGIN { exit !(a < b) }'; then
    R_SECS=$RA_SECS R_RSS=$RA_RSS
fi
R_BYTES=$(json "$RUN/restore.out" 'd["restore"]["bytes"]')
R_MBS=$(mbs "$R_BYTES" "$R_SECS")
# A benchmark that restores garbage fast proves nothing: spot-check identity.
cmp -s "$BIG_FILE" "$RUN/restore/base/16384/16385" || die "restored 16385 differs from the source"
[ "$(tree_bytes "$RUN/restore")" = "$DATA_BYTES" ] || die "restored tree size differs from the source"
rm -rf "$RUN/restore"

if [ "$BENCH_SCALING" = 1 ]; then
    note "scaling: backup-dir with --threads 1 into a second fresh repository"
    "$RADIANT" --config "$CONF" repo init --repo bench1 >/dev/null || die "repo init failed"
    run backup_t1 repo backup-dir --repo bench1 --path "$DATA" --threads 1
    T1_SECS=$SECS T1_CPU=$CPU
    T1_MBS=$(mbs "$B1_LOGICAL" "$T1_SECS")
    rm -rf "$RUN/repo1"
fi

# ------------------------------------------------------------------- report --

mb() { awk -v n="$1" 'BEGIN { printf "%.0f", n / 1e6 }'; }
rss_mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi; }

B1_VS_ZSTD=$(awk -v a="$B1_MBS" -v b="$ZSTD_MBS" 'BEGIN { printf "%.2f", a / b }')
R_VS_DD=$(awk -v a="$R_MBS" -v b="$DD_MBS" 'BEGIN { printf "%.2f", a / b }')
STORED_RATIO=$(awk -v a="$B1_STORED" -v b="$B1_LOGICAL" 'BEGIN { printf "%.2f", a / b }')

cat <<EOF

## radiant repository benchmark

- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), host: $(uname -n), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)
- cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
- radiant: $("$RADIANT" --version), data set: $DATA ($DATA_FILES files, $(mb "$DATA_BYTES") MB, generated: $GEN_SECS)
- filesystem: $(df -PT "$BENCH_DIR" | awk 'NR == 2 { print $2 " on " $1 }')
- warm cache: the data set was not evicted from the page cache before the runs;
  dd and restore are fsynced/syncfs'ed, so their numbers include the disk.
- rates are MB/s = 10^6 bytes/s of logical (source) data over wall-clock time
  of the whole command (process start, repository unlock with scrypt, exit).
- pgBackRest: not compared (it needs a running PostgreSQL); see bench/README.md.

| metric | value | anchor | ratio vs anchor | target | pass/fail |
|---|---|---|---|---|---|
| (a) dd fsynced sequential write, 2 GiB | $DD_MBS MB/s (median of runs: $DD_ALL) | - | - | (anchor) | - |
| (b) zstd -1 -T1, one 1 GiB data file | $ZSTD_MBS MB/s (ratio ${ZSTD_RATIO}x) | - | - | (anchor) | - |
| (c) backup-dir, encrypted, default threads (3), faster of 2 | $B1_MBS MB/s ($(mb "$B1_LOGICAL") MB in ${B1_SECS} s; runs: $B1_RUNS) | zstd -1 -T1 $ZSTD_MBS MB/s | ${B1_VS_ZSTD}x | >= 600 MB/s | $(verdict "$B1_MBS >= 600") |
| (c) stored size (new packs) | $(mb "$B1_STORED") MB (repo on disk $(mb "$REPO_BYTES") MB) | logical $(mb "$B1_LOGICAL") MB | $STORED_RATIO | - | info |
| (c) backup peak RSS | $(rss_mb "$B1_RSS") MB | - | - | < 150 MB | $(verdict "$B1_RSS * 1024 < 150e6") |
| (d) unchanged re-backup | $B2_MBS MB/s (${B2_SECS} s, new data $B2_NEW B) | first backup ${B1_SECS} s | ${SPEEDUP}x faster | >= 5x faster | $(verdict "$SPEEDUP >= 5") |
| (d) unchanged re-backup, --read-all | $B3_MBS MB/s (${B3_SECS} s, CPU $B3_CPU s, new data $B3_NEW B) | first backup ${B1_SECS} s | ${SPEEDUP3}x faster | - | info |
| (d) re-backup peak RSS | $(rss_mb "$B2_RSS") MB (--read-all: $(rss_mb "$B3_RSS") MB) | - | - | < 150 MB | $(verdict "$B2_RSS * 1024 < 150e6 && $B3_RSS * 1024 < 150e6") |
| (e) restore-dir incl. syncfs, default threads (3 fill threads, 1 writer), faster of 2 | $R_MBS MB/s ($(mb "$R_BYTES") MB in ${R_SECS} s; runs: $R_RUNS) | dd $DD_MBS MB/s | $R_VS_DD | >= 0.90 x dd | $(verdict "$R_VS_DD >= 0.90") |
| (e) restore peak RSS | $(rss_mb "$R_RSS") MB | - | - | < 150 MB | $(verdict "$R_RSS * 1024 < 150e6") |
EOF
if [ "$BENCH_SCALING" = 1 ]; then
    echo "| backup-dir, encrypted, --threads 1 | $T1_MBS MB/s (${T1_SECS} s, CPU $T1_CPU s) | default (3): $B1_MBS MB/s | $(awk -v a="$B1_MBS" -v b="$T1_MBS" 'BEGIN { printf "%.2f", a / b }')x speedup from 1 to 3 threads | - | info |"
fi
cat <<EOF
| (c) backup CPU time (user+sys) | $B1_CPU s = $(awk -v c="$B1_CPU" -v n="$B1_LOGICAL" 'BEGIN { printf "%.1f", c / (n / 1e9) }') CPU-s/GB | $NCPU cores | ceiling $(mbs "$B1_LOGICAL" "$(awk -v c="$B1_CPU" -v k="$NCPU" 'BEGIN { print c / k }')") MB/s if perfectly parallel | - | info |

backup-dir's own duration_seconds (begin to commit, without process start and unlock): ${B1_INTERNAL} s

Run conditions (wall and CPU time of each command; "others" is the share of the
whole machine's CPU that other processes used meanwhile, which slows the run):

| run | wall | CPU (user+sys) | others |
|---|---|---|---|
$(cat "$RUN/conditions")
EOF
busy=$(awk -F'|' '{ gsub(/[ %]/, "", $5); if ($5 + 0 > m) m = $5 + 0 } END { print m + 0 }' "$RUN/conditions")
if [ "$busy" -gt 10 ]; then
    echo
    echo "WARNING: other processes used up to ${busy}% of the CPU during a run; the numbers above"
    echo "are lower than this machine can do. Run again when it is idle."
fi
