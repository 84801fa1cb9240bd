#!/bin/sh
# bench/drill.sh: the db-corruption drill at pgbench scale 10 and 100 (by
# hand, never in CI; as root, PostgreSQL runs as the run-as user postgres).
# Each run is `radiant drill run db-corruption --ephemeral --scale N`: the
# sandbox's cluster gets `pgbench -i -s N` before its base backup, a journaled
# workload runs, a table is dropped at a seeded moment and the
# database-recovery runbook restores the cluster to the second before. The
# script prints, per scale, the RTO split by step (the drill's own
# prerequisite wait, each runbook step, the verified read and write) with the
# share of each, so that the slowest step is visible, then RPO and verdict.
#
#   BENCH_SCALES    scales to run (default "10 100")
#   BENCH_DURATION  seconds of workload (default 20)
#   BENCH_SEED      seed of the drills (default 1)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RADIANT="$ROOT/build/radiant"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SCALES=${BENCH_SCALES:-"10 100"}
DURATION=${BENCH_DURATION:-20}
SEED=${BENCH_SEED:-1}

if [ ! -x "$RADIANT" ]; then
    cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$ROOT/build" -j2 >/dev/null
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/radiant-bench-drill.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
printf '[radiant]\nstate-dir = state\n' >"$WORK/radiant.conf"

for scale in $SCALES; do
    echo "==> radiant drill run db-corruption --ephemeral --scale $scale --duration $DURATION --seed $SEED" >&2
    start=$(date +%s)
    "$RADIANT" --config "$WORK/radiant.conf" --output json drill run db-corruption --ephemeral \
        --scale "$scale" --duration "$DURATION" --seed "$SEED" >"$WORK/scale-$scale.json" ||
        echo "drill at scale $scale exited $?" >&2
    echo "$(( $(date +%s) - start ))" >"$WORK/scale-$scale.wall"
done

"$PY" - "$WORK" $SCALES <<'PYEOF'
import json, os, sys

work, scales = sys.argv[1], sys.argv[2:]
for scale in scales:
    path = os.path.join(work, "scale-%s.json" % scale)
    if not os.path.getsize(path):
        print("\n### scale %s: the drill did not run\n" % scale)
        continue
    d = json.load(open(path))["Drill"]
    wall = open(os.path.join(work, "scale-%s.wall" % scale)).read().strip()
    rto = d["rto"]["seconds"]
    print("\n### db-corruption, pgbench scale %s (drill %s, %s s wall in all)\n"
          % (scale, d["id"], wall))
    print("| step | seconds | share of RTO |")
    print("|---|---:|---:|")
    steps = [s for s in d["steps"] if s["duration_seconds"] is not None]
    slowest = max(steps, key=lambda s: s["duration_seconds"]) if steps else None
    for s in steps:
        mark = " **(slowest)**" if s is slowest else ""
        share = "%.0f %%" % (100 * s["duration_seconds"] / rto) if rto else "-"
        print("| %s%s | %.2f | %s |" % (s["name"], mark, s["duration_seconds"], share))
    inj = [e for e in d["timeline"] if e["kind"] == "injection"][0]["time"]
    det = [e for e in d["timeline"] if e["kind"] == "detection"]
    print("| **RTO** (injection to verified read + accepted write) | **%s** | 100 %% |"
          % ("%.2f" % rto if rto is not None else "-"))
    print("\nRPO %s s, lost writes %d, verdict %s%s" % (
        "%.2f" % d["rpo"]["seconds"] if d["rpo"]["seconds"] is not None else "-",
        d["writes"]["lost"], d["verdict"],
        ("; " + d["failure_reason"]) if d["failure_reason"] else ""))
PYEOF
