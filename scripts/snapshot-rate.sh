#!/usr/bin/env bash
# Measures DB cluster snapshot creation of a PostgreSQL table next to
# `psql -c "COPY big TO STDOUT (FORMAT binary)" > /dev/null`, in the same
# run, and the size of the stored copy against the table's size:
#   scripts/snapshot-rate.sh [ROWS]   (default 2000000)
# Creates database rdsexport_rate with table big (ROWS rows) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-2000000}
pg="postgres://postgres@127.0.0.1:5432"
psql -q "$pg/postgres" -tc "SELECT 1 FROM pg_database WHERE datname = 'rdsexport_rate'" | grep -q 1 ||
	psql -q "$pg/postgres" -c "CREATE DATABASE rdsexport_rate"
have=$(psql -qAt "$pg/rdsexport_rate" -c "SELECT count(*) FROM big" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
	psql -q "$pg/rdsexport_rate" <<SQL
DROP TABLE IF EXISTS big;
CREATE TABLE big (id bigint, qty integer, price double precision, note text, day date, flag boolean);
INSERT INTO big SELECT i, i % 1000, i * 0.25, md5(i::text) || ' some text to make rows wider', date '2020-01-01' + i % 2000, i % 2 = 0
	FROM generate_series(1, $rows) i;
VACUUM ANALYZE big;
SQL
fi
bytes=$(psql -qAt "$pg/rdsexport_rate" -c "SELECT pg_relation_size('big')")

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/rdsexport" ./cmd/rdsexport
cat >"$work/config.yaml" <<YAML
listen: 127.0.0.1:0
data_dir: $work/data
clusters:
  - {identifier: rate, engine: postgres, url: "$pg/rdsexport_rate", databases: [rdsexport_rate]}
YAML
"$work/rdsexport" serve --config "$work/config.yaml" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^rdsexport listening on \(http:[^ ]*\).*/\1/p' "$work/out")
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=

now() { date +%s.%N; }
t0=$(now)
psql -q "$pg/rdsexport_rate" -c "COPY big TO STDOUT (FORMAT binary)" >/dev/null
t1=$(now)
aws --endpoint-url "$url" rds create-db-cluster-snapshot --db-cluster-snapshot-identifier rate --db-cluster-identifier rate >/dev/null
while :; do
	st=$(aws --endpoint-url "$url" rds describe-db-cluster-snapshots --db-cluster-snapshot-identifier rate --query 'DBClusterSnapshots[0].Status' --output text)
	case $st in available) break ;; failed) echo "snapshot failed" >&2; exit 1 ;; esac
	sleep 0.05
done
t2=$(now)
stored=$(du -sb "$work/data/snapshots" | cut -f1)
python3 - "$bytes" "$rows" "$t0" "$t1" "$t2" "$stored" <<'PY'
import sys
b, rows, t0, t1, t2, stored = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:6]), int(sys.argv[6])
copy, snap = t1 - t0, t2 - t1
mb = b / 1e6
print(f"table: {rows} rows, {mb:.0f} MB (pg_relation_size)")
print(f"psql COPY (FORMAT binary) > /dev/null: {copy:6.2f} s  {mb/copy:7.1f} MB/s")
print(f"CreateDBClusterSnapshot to available: {snap:6.2f} s  {mb/snap:7.1f} MB/s  ratio {snap/copy:.2f}x COPY")
print(f"stored copy: {stored/1e6:.1f} MB = {stored/b:.3f} of the table")
PY
