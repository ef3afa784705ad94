#!/usr/bin/env bash
# Measures the export rate of one MariaDB/MySQL table next to
# `mariadb --quick -e 'SELECT * FROM db.t' > /dev/null`, in the same run:
#   scripts/mysql-rate.sh [ROWS]   (default 2000000)
# Creates database rdsexport_rate with table big (ROWS rows) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-2000000}
my() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -uroot "$@"; }
my -e "CREATE DATABASE IF NOT EXISTS rdsexport_rate"
have=$(my -N -e "SELECT COUNT(*) FROM rdsexport_rate.big" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
	my rdsexport_rate -e "DROP TABLE IF EXISTS big;
CREATE TABLE big (id BIGINT PRIMARY KEY, qty INT, price DOUBLE, note VARCHAR(64), day DATE, flag TINYINT(1));
INSERT INTO big SELECT seq, seq % 1000, seq * 0.25, CONCAT(MD5(seq), ' some text'), '2020-01-01' + INTERVAL (seq % 2000) DAY, seq % 2
	FROM seq_1_to_$rows;
ANALYZE TABLE big;" >/dev/null
fi
bytes=$(my -N -e "SELECT data_length FROM information_schema.TABLES WHERE table_schema='rdsexport_rate' AND table_name='big'")

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/rdsexport" ./cmd/rdsexport
cat >"$work/config.yaml" <<YAML
listen: 127.0.0.1:0
data_dir: $work/data
clusters:
  - {identifier: rate, engine: mariadb, url: "mysql://root@127.0.0.1:3306/", databases: [rdsexport_rate]}
YAML
"$work/rdsexport" serve --config "$work/config.yaml" >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^rdsexport listening on \(http:[^ ]*\).*/\1/p' "$work/out")
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
aws --endpoint-url "$url" s3 mb s3://rate >/dev/null

now() { date +%s.%N; }
t0=$(now)
my --quick -e 'SELECT * FROM rdsexport_rate.big' >/dev/null
t1=$(now)
aws --endpoint-url "$url" rds start-export-task --export-task-identifier rate --source-arn arn:aws:rds:us-east-1:000000000000:cluster:rate \
	--s3-bucket-name rate --iam-role-arn arn:aws:iam::000000000000:role/r --kms-key-id k >/dev/null
while :; do
	st=$(aws --endpoint-url "$url" rds describe-export-tasks --export-task-identifier rate --query 'ExportTasks[0].Status' --output text)
	case $st in COMPLETE) break ;; FAILED | CANCELED) echo "export $st" >&2; exit 1 ;; esac
	sleep 0.05
done
t2=$(now)
python3 - "$bytes" "$rows" "$t0" "$t1" "$t2" <<'PY'
import sys
b, rows, t0, t1, t2 = int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:])
q, exp = t1 - t0, t2 - t1
mb = b / 1e6
print(f"table: {rows} rows, {mb:.0f} MB (InnoDB data_length)")
print(f"mariadb --quick SELECT * > /dev/null: {q:6.2f} s  {mb/q:7.1f} MB/s")
print(f"rdsexport export (GZIP Parquet, embedded S3, API polling included): {exp:6.2f} s  {mb/exp:7.1f} MB/s  ratio {exp/q:.2f}x")
PY
