#!/usr/bin/env bash
# Export benchmark: one PostgreSQL table exported by rdsexport (GZIP Parquet
# into the embedded S3, API polling included) next to a raw single-connection
# `psql COPY (FORMAT binary) > /dev/null` of the same table, in the same run.
#
#   scripts/bench.sh                      # ROWS=2000000 TABLE=lineitem RUNS=1
#   ROWS=6000000 RUNS=3 scripts/bench.sh
#   PROFILE=cpu.pprof PROFILE_SECONDS=5 scripts/bench.sh  # CPU profile of the export's first seconds
#
# Environment: ROWS (table size), TABLE (lineitem: TPC-H lineitem-like
# columns; big: six simple columns), RUNS (COPY/export pairs), CONNECTIONS
# (export_connections), PROFILE (CPU profile file of the last export),
# PROFILE_SECONDS (its length; keep it below the export time).
# Creates database rdsexport_bench and the table if missing. Prints one table
# row per run with the ratio of export to COPY time and the server's peak RSS
# (VmHWM), PASS when export ≤ 1.0 × COPY and peak RSS ≤ 300 MiB (the targets
# of the performance issue). Exits 0 whatever the outcome: it measures.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${ROWS:-2000000}
kind=${TABLE:-lineitem}
table=${kind}_$rows # one table per size, so that switching sizes regenerates nothing
runs=${RUNS:-1}
conns=${CONNECTIONS:-}
profile=${PROFILE:-}
pg=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
db=rdsexport_bench
rss_limit_kb=$((300 * 1024))

psql -q "$pg/postgres" -tc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
	psql -q "$pg/postgres" -c "CREATE DATABASE $db"
have=$(psql -qAt "$pg/$db" -c "SELECT count(*) FROM $table" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
	echo "generating $table..." >&2
	case $kind in
	big)
		psql -v ON_ERROR_STOP=1 -q "$pg/$db" <<SQL
DROP TABLE IF EXISTS $table;
CREATE TABLE $table (id bigint, qty integer, price double precision, note text, day date, flag boolean);
INSERT INTO $table SELECT i, i % 1000, i * 0.25, md5(i::text) || ' some text to make rows wider', date '2020-01-01' + i % 2000, i % 2 = 0
	FROM generate_series(1, $rows) i;
VACUUM ANALYZE $table;
SQL
		;;
	lineitem)
		# TPC-H lineitem's columns and value shapes (dbgen's are random;
		# these are deterministic functions of the row number).
		psql -v ON_ERROR_STOP=1 -q "$pg/$db" <<SQL
DROP TABLE IF EXISTS $table;
CREATE TABLE $table (
	l_orderkey bigint NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
	l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
	l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
	l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
	l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
	l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL);
INSERT INTO $table SELECT
	(i / 4) * 32 + i % 7, 1 + (i * 7919) % 200000, 1 + (i * 104729) % 10000, 1 + i % 7,
	1 + i % 50, ((1 + i % 50) * (900 + (i * 7919) % 100000 / 100.0))::numeric(15,2),
	(i % 11) / 100.0, (i % 9) / 100.0,
	(ARRAY['R','A','N'])[1 + i % 3], (ARRAY['O','F'])[1 + i % 2],
	d, d + (30 + i % 60)::int, d + (1 + i % 30)::int,
	(ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[1 + i % 4],
	(ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[1 + i % 7],
	left(md5(i::text) || ' carefully final deposits', (10 + i % 34)::int)
	FROM generate_series(1::bigint, $rows) i, LATERAL (SELECT date '1992-01-02' + (i % 2526)::int AS d) x;
VACUUM ANALYZE $table;
SQL
		;;
	*) echo "unknown TABLE $kind" >&2; exit 2 ;;
	esac
fi
bytes=$(psql -qAt "$pg/$db" -c "SELECT pg_relation_size('$table')")

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/rdsexport" ./cmd/rdsexport
{
	echo "listen: 127.0.0.1:0"
	echo "data_dir: $work/data"
	[ -n "$conns" ] && echo "export_connections: $conns"
	echo "clusters:"
	echo "  - {identifier: bench, engine: postgres, url: \"$pg/$db\"}"
} >"$work/config.yaml"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=

now() { date +%s.%N; }
# rds calls the RDS Query API with curl's SigV4 signing: the AWS CLI costs
# about half a second of CPU per call, which would be taken from the export
# on a small machine when polling.
rds() {
	local args=(-sf --aws-sigv4 "aws:amz:us-east-1:rds" --user test:test "$url/" --data-urlencode Version=2014-10-31)
	for a in "$@"; do args+=(--data-urlencode "$a"); done
	curl "${args[@]}"
}
results=()
for run in $(seq 1 "$runs"); do
	# A fresh server per run, so that its peak RSS is this export's.
	rm -rf "$work/data"
	RDSEXPORT_PPROF=${profile:+127.0.0.1:0} "$work/rdsexport" serve --config "$work/config.yaml" >"$work/out" 2>"$work/log" &
	pid=$!
	for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
	url=$(sed -n 's/^rdsexport listening on \(http:[^ ]*\).*/\1/p' "$work/out")
	aws --endpoint-url "$url" s3 mb s3://bench >/dev/null

	t0=$(now)
	psql -q "$pg/$db" -c "COPY $table TO STDOUT (FORMAT binary)" >/dev/null
	t1=$(now)
	rds Action=StartExportTask "ExportTaskIdentifier=run$run" \
		SourceArn=arn:aws:rds:us-east-1:000000000000:cluster:bench S3BucketName=bench \
		IamRoleArn=arn:aws:iam::000000000000:role/r KmsKeyId=k "ExportOnly.member.1=$db.public.$table" >/dev/null
	prof=
	if [ -n "$profile" ] && [ "$run" = "$runs" ]; then
		paddr=$(sed -n 's/.*msg="pprof listening" addr=\([^ ]*\).*/\1/p' "$work/log")
		curl -s -o "$profile" "http://$paddr/debug/pprof/profile?seconds=${PROFILE_SECONDS:-5}" &
		prof=$!
	fi
	while :; do
		st=$(rds Action=DescribeExportTasks "ExportTaskIdentifier=run$run" | sed -n 's:.*<Status>\([A-Z_]*\)</Status>.*:\1:p')
		case $st in COMPLETE) break ;; FAILED | CANCELED) echo "export $st" >&2; cat "$work/log" >&2; exit 1 ;; esac
		sleep 0.05
	done
	t2=$(now)
	rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
	out=$(du -sb "$work/data/s3" | cut -f1)
	files=$(aws --endpoint-url "$url" s3 ls --recursive s3://bench/ | grep -c '/part-' || true)
	cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$pid/stat")
	[ -n "$prof" ] && wait "$prof"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	results+=("$t0 $t1 $t2 $rss $out $files $cpu")
done

python3 - "$table" "$rows" "$bytes" "$rss_limit_kb" "${results[@]}" <<'PY'
import sys
table, rows, size, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"table {table}: {rows} rows, {size/1e6:.0f} MB on disk")
print(f"{'run':>3}  {'COPY s':>7}  {'export s':>8}  {'ratio':>6}  {'target':>6}  {'peak RSS':>9}  {'CPU s':>6}  {'Parquet':>8}  {'files':>5}  result")
for i, r in enumerate(sys.argv[5:], 1):
    t0, t1, t2, rss, out, files, cpu = r.split()
    copy, exp = float(t1) - float(t0), float(t2) - float(t1)
    ratio = exp / copy
    ok = ratio <= 1.0 and int(rss) <= limit
    print(f"{i:>3}  {copy:7.2f}  {exp:8.2f}  {ratio:5.2f}x  {'1.00x':>6}  {int(rss)/1024:5.0f} MiB  {float(cpu):6.1f}  {int(out)/1e6:5.0f} MB  {int(files):5}  {'PASS' if ok else 'FAIL'}")
PY
