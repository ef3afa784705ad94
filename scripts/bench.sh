#!/usr/bin/env bash
# Export benchmark: the eight targets of the performance issue, measured in
# one run and printed as one table (target, reference, rdsexport, ratio or
# value, goal, PASS/FAIL).
#
#   scripts/bench.sh                            # every target, ROWS=2000000
#   ROWS=200000 TARGETS="1 3 5" scripts/bench.sh
#   SCALES="1000000 6000000" TARGETS=4 scripts/bench.sh
#   PROFILE=cpu.pprof PROFILE_SECONDS=5 TARGETS=1 scripts/bench.sh
#
# Targets (TARGETS, default "1 2 3 4 5 6 7 8 9"):
#  1  PostgreSQL export of TABLE (GZIP Parquet into the embedded S3, from
#     the StartExportTask call to the task's TaskEndTime; a fresh server per
#     run) against, in the same run,
#     a single-connection psql COPY (FORMAT binary) > /dev/null (goal ≤ 1.0×),
#     psql COPY (FORMAT csv) | DuckDB → Parquet file (scripts/csv2parquet;
#     goal ≤ 0.67×) and, informational (stretch goal ≤ 1.25×), two psql COPY
#     (FORMAT binary) in parallel, each of half the table by ctid range.
#     Beside the wall ratios, the server's CPU (utime + stime of its
#     process, /proc/PID/stat) per GB of source heap (pg_relation_size);
#     goal ≤ 10 CPU-s/GB.
#  2  MariaDB export of the same table shape ≤ 1.0 × mariadb --quick -e
#     'SELECT * FROM db.t' > /dev/null; the server's CPU per GB of InnoDB
#     data (data_length), goal ≤ 10 CPU-s/GB.
#  3  200 tables of 100 rows in one PostgreSQL database: StartExportTask to
#     COMPLETE ≤ 2 s; the bucket must hold every table's files and both
#     manifests.
#  4  Peak RSS (VmHWM, fresh server per export) ≤ 300 MiB at ROWS and at
#     every size in SCALES, all within 10% of each other.
#  5  CANCELS cancels at random points of an export of CANCEL_ROWS rows:
#     from the CancelExportTask answer to Describe showing CANCELED, p99
#     (the max of 20) < 1 s; afterwards no extra goroutines in the server
#     (RDSEXPORT_PPROF), no PostgreSQL connection to the database, no
#     multipart upload left.
#  6  BenchmarkControlPlane (cmd/rdsexport/controlplane_bench_test.go): with
#     100,000 stored tasks and two exports running, filtered
#     DescribeExportTasks p99 < 10 ms and StartExportTask p99 < 20 ms.
#  7  PercentProgress during the target-1 exports never decreases and
#     changes at least every 2 s (Describe polled every POLL seconds).
#  8  BenchmarkControlPlanePostgres (cmd/rdsexport/controlplane_pg_bench_test.go):
#     with 100,000 tasks in a PostgreSQL store (store: postgres://...,
#     versitygw as S3) and no export running, filtered DescribeExportTasks
#     p99 < 10 ms.
#
#  9  BenchmarkClusterScaling (cmd/rdsexport/cluster_bench_test.go): the
#     TABLE export with 1, 2 and 3 nodes on a PostgreSQL store and
#     versitygw, each node in its own cgroup with NODE_CPU CPUs (default
#     0.3), PostgreSQL unlimited: seconds per node count and the speed-ups
#     (informational: on two cores PostgreSQL's own COPY work competes).
#
# Knobs: ROWS (default 2000000), TABLE (lineitem: TPC-H lineitem's 16
# columns; big: six simple columns), RUNS (target 1 and 2 pairs; the table
# shows medians), CONNECTIONS (export_connections), PROFILE and
# PROFILE_SECONDS (CPU profile of the last target-1 export, and of the
# last target-2 export into PROFILE with .my before its extension), TARGETS,
# SCALES (other PostgreSQL sizes for target 4; default "1000000 6000000",
# SCALES=1000000 is 20 s quicker, "" measures ROWS only; each size is a
# table generated once), CANCEL_ROWS (default
# 1000000), CANCELS (default 20), DUCKDB_COMPRESSION (Parquet codec of the
# DuckDB pipeline; default DuckDB's, Snappy), POLL (Describe poll interval,
# default 0.25 s; export times come from TaskEndTime), BENCH_POSTGRES
# (server URL without database). The PostgreSQL URLs have no sslmode, so
# psql and the server (pgx) both use TLS when PostgreSQL offers it;
# PGSSLMODE=disable, read by both, measures both without.
#
# Data is generated when missing and not timed: database rdsexport_bench in
# PostgreSQL and MariaDB (127.0.0.1:3306, root) with one table per kind and
# size, and rdsexport_bench_small. API calls go through curl --aws-sigv4
# (the AWS CLI costs half a second of CPU per call, taken from the export
# on a small machine); the CLI is used only outside timed sections.
# Exits 0 whatever the measurements say; exits 1 on errors (an export that
# fails, a server that does not start).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_NUMERIC=C

rows=${ROWS:-2000000}
kind=${TABLE:-lineitem}
table=${kind}_$rows # one table per size, so that switching sizes regenerates nothing
runs=${RUNS:-1}
export_conns=${CONNECTIONS:-}
profile=${PROFILE:-}
targets=" ${TARGETS:-1 2 3 4 5 6 7 8 9} "
scales=${SCALES-1000000 6000000}
cancel_rows=${CANCEL_ROWS:-1000000}
cancels=${CANCELS:-20}
duck_codec=${DUCKDB_COMPRESSION:-}
poll=${POLL:-0.25}
pg=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
my_url=mysql://root@127.0.0.1:3306/
db=rdsexport_bench
small_db=rdsexport_bench_small
small_tables=200
arn=arn:aws:rds:us-east-1:000000000000:cluster
rss_limit_mib=300
# The embedded S3 checks the payload hash, which curl does not send: this
# one is an empty body's.
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=

# ---------------------------------------------------------------- helpers

die() { echo "bench: $*" >&2; [ -f "$work/log" ] && tail -20 "$work/log" >&2; exit 1; }
want() { [[ $targets == *" $1 "* ]]; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPR
since() { calc %.3f "$EPOCHREALTIME - $1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
human() { awk "BEGIN { n = $1; if (n >= 1e6) print n / 1e6 \"M\"; else if (n >= 1e3) print n / 1e3 \"k\"; else print n }"; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
le() { awk "BEGIN { exit !($1 <= $2) }"; } # le A B: A ≤ B
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -qAt -v ON_ERROR_STOP=1 "$@"; }
my() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -uroot "$@"; }

failed=false
rows_out=() # target lines: target, reference, rdsexport, value, goal, result; \x1f between
notes=()
row() { rows_out+=("$1"$'\x1f'"$2"$'\x1f'"$3"$'\x1f'"$4"$'\x1f'"$5"$'\x1f'"$6"); }
note() { notes+=("$*"); echo "  $*"; }

# ensure_pg_table KIND ROWS creates ${KIND}_${ROWS} in $db if missing.
ensure_pg_table() {
	local kind=$1 n=$2 t=$1_$2 have
	psql_q "$pg/postgres" -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
		psql_q "$pg/postgres" -c "CREATE DATABASE $db"
	have=$(psql_q "$pg/$db" -c "SELECT count(*) FROM $t" 2>/dev/null || echo 0)
	[ "$have" = "$n" ] && return
	echo "generating PostgreSQL $t..." >&2
	case $kind in
	big)
		psql_q "$pg/$db" <<SQL
DROP TABLE IF EXISTS $t;
CREATE TABLE $t (id bigint, qty integer, price double precision, note text, day date, flag boolean);
INSERT INTO $t SELECT i, i % 1000, i * 0.25, md5(i::text) || ' some text to make rows wider', date '2020-01-01' + i % 2000, i % 2 = 0
	FROM generate_series(1, $n) i;
VACUUM ANALYZE $t;
SQL
		;;
	lineitem)
		# TPC-H lineitem's columns and value shapes (dbgen's are random;
		# these are deterministic functions of the row number).
		psql_q "$pg/$db" <<SQL
DROP TABLE IF EXISTS $t;
CREATE TABLE $t (
	l_orderkey bigint NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
	l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL,
	l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
	l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
	l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
	l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL);
INSERT INTO $t SELECT
	(i / 4) * 32 + i % 7, 1 + (i * 7919) % 200000, 1 + (i * 104729) % 10000, 1 + i % 7,
	1 + i % 50, ((1 + i % 50) * (900 + (i * 7919) % 100000 / 100.0))::numeric(15,2),
	(i % 11) / 100.0, (i % 9) / 100.0,
	(ARRAY['R','A','N'])[1 + i % 3], (ARRAY['O','F'])[1 + i % 2],
	d, d + (30 + i % 60)::int, d + (1 + i % 30)::int,
	(ARRAY['DELIVER IN PERSON','COLLECT COD','NONE','TAKE BACK RETURN'])[1 + i % 4],
	(ARRAY['REG AIR','AIR','RAIL','SHIP','TRUCK','MAIL','FOB'])[1 + i % 7],
	left(md5(i::text) || ' carefully final deposits', (10 + i % 34)::int)
	FROM generate_series(1::bigint, $n) i, LATERAL (SELECT date '1992-01-02' + (i % 2526)::int AS d) x;
VACUUM ANALYZE $t;
SQL
		;;
	*) die "unknown TABLE $kind" ;;
	esac
}

# ensure_my_table KIND ROWS: the same table in MariaDB (seq_1_to_N), with a
# primary key.
ensure_my_table() {
	local kind=$1 n=$2 t=$1_$2 have
	my -e "CREATE DATABASE IF NOT EXISTS $db"
	have=$(my -N -e "SELECT COUNT(*) FROM $db.$t" 2>/dev/null || echo 0)
	[ "$have" = "$n" ] && return
	echo "generating MariaDB $t..." >&2
	case $kind in
	big)
		my "$db" -e "DROP TABLE IF EXISTS $t;
CREATE TABLE $t (id BIGINT PRIMARY KEY, qty INT, price DOUBLE, note VARCHAR(64), day DATE, flag BOOLEAN);
INSERT INTO $t SELECT seq, seq % 1000, seq * 0.25, CONCAT(MD5(seq), ' some text to make rows wider'),
	DATE '2020-01-01' + INTERVAL (seq % 2000) DAY, seq % 2 = 0 FROM seq_1_to_$n;
ANALYZE TABLE $t;" >/dev/null
		;;
	lineitem)
		# l_orderkey alone is unique: (i DIV 4) * 32 + i % 7.
		my "$db" -e "DROP TABLE IF EXISTS $t;
CREATE TABLE $t (
	l_orderkey BIGINT NOT NULL, l_partkey INT NOT NULL, l_suppkey INT NOT NULL,
	l_linenumber INT NOT NULL, l_quantity DECIMAL(15,2) NOT NULL,
	l_extendedprice DECIMAL(15,2) NOT NULL, l_discount DECIMAL(15,2) NOT NULL,
	l_tax DECIMAL(15,2) NOT NULL, l_returnflag CHAR(1) NOT NULL, l_linestatus CHAR(1) NOT NULL,
	l_shipdate DATE NOT NULL, l_commitdate DATE NOT NULL, l_receiptdate DATE NOT NULL,
	l_shipinstruct CHAR(25) NOT NULL, l_shipmode CHAR(10) NOT NULL, l_comment VARCHAR(44) NOT NULL,
	PRIMARY KEY (l_orderkey, l_linenumber));
INSERT INTO $t SELECT
	(seq DIV 4) * 32 + seq % 7, 1 + (seq * 7919) % 200000, 1 + (seq * 104729) % 10000, 1 + seq % 7,
	1 + seq % 50, CAST((1 + seq % 50) * (900 + (seq * 7919) % 100000 / 100.0) AS DECIMAL(15,2)),
	(seq % 11) / 100.0, (seq % 9) / 100.0,
	ELT(1 + seq % 3, 'R', 'A', 'N'), ELT(1 + seq % 2, 'O', 'F'),
	d, d + INTERVAL (30 + seq % 60) DAY, d + INTERVAL (1 + seq % 30) DAY,
	ELT(1 + seq % 4, 'DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'),
	ELT(1 + seq % 7, 'REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'),
	LEFT(CONCAT(MD5(seq), ' carefully final deposits'), 10 + seq % 34)
	FROM (SELECT seq, DATE '1992-01-02' + INTERVAL (seq % 2526) DAY AS d FROM seq_1_to_$n) x;
ANALYZE TABLE $t;" >/dev/null
		;;
	*) die "unknown TABLE $kind" ;;
	esac
}

# ensure_small_db: $small_tables tables of 100 rows with a few mixed columns.
ensure_small_db() {
	local have
	have=$(psql_q "$pg/$small_db" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" 2>/dev/null || echo 0)
	[ "$have" = "$small_tables" ] && return
	echo "generating $small_db..." >&2
	psql_q "$pg/postgres" -c "DROP DATABASE IF EXISTS $small_db" -c "CREATE DATABASE $small_db"
	psql_q "$pg/$small_db" <<SQL
DO \$\$ BEGIN FOR i IN 1..$small_tables LOOP
	EXECUTE format('CREATE TABLE t%s (id integer PRIMARY KEY, name text, amount numeric(10,2), created timestamptz, active boolean)', lpad(i::text, 3, '0'));
	EXECUTE format('INSERT INTO t%s SELECT g, md5(g::text), g * 1.5, timestamptz ''2024-01-01 00:00:00+00'' + g * interval ''1 hour'', g %% 2 = 0 FROM generate_series(1, 100) g', lpad(i::text, 3, '0'));
END LOOP; END \$\$;
ANALYZE;
SQL
}

# server_start CLUSTER... starts a fresh server (empty data_dir, so its
# VmHWM is what follows) with the clusters named: pg (bench, $db), small
# ($small_db), my (benchmy, MariaDB $db); bucket "bench".
server_start() {
	server_stop
	rm -rf "$work/data"
	{
		echo "listen: 127.0.0.1:0"
		echo "data_dir: $work/data"
		if [ -n "$export_conns" ]; then echo "export_connections: $export_conns"; fi
		echo "clusters:"
		for c in "$@"; do
			case $c in
			pg) echo "  - {identifier: bench, engine: postgres, url: \"$pg/$db\", databases: [$db]}" ;;
			small) echo "  - {identifier: small, engine: postgres, url: \"$pg/$small_db\", databases: [$small_db]}" ;;
			my) echo "  - {identifier: benchmy, engine: mariadb, url: \"$my_url\", databases: [$db]}" ;;
			esac
		done
	} >"$work/config.yaml"
	RDSEXPORT_PPROF=127.0.0.1:0 "$work/rdsexport" serve --config "$work/config.yaml" >"$work/out" 2>"$work/log" &
	pid=$!
	for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
	url=$(sed -n 's/^rdsexport listening on \(http:[^ ]*\).*/\1/p' "$work/out")
	paddr=$(sed -n 's/.*msg="pprof listening" addr=\([^ ]*\).*/\1/p' "$work/log")
	[ -n "$url" ] && [ -n "$paddr" ] || die "the server did not start"
	curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test -X PUT \
		-H "x-amz-content-sha256: $empty_sha256" \
		"$url/bench" >/dev/null || die "create bucket"
}

server_stop() {
	[ -n "$pid" ] || return 0
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

rss_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$pid/stat"; }
goroutines() { curl -sf "http://$paddr/debug/pprof/goroutine?debug=1" | sed -n 's/^goroutine profile: total \([0-9]*\).*/\1/p'; }

# rds calls the RDS Query API with curl's SigV4 signing; the answer is on
# stdout, also on an error status (then rds fails).
rds() {
	local args=(-s --fail-with-body --aws-sigv4 "aws:amz:us-east-1:rds" --user test:test "$url/" --data-urlencode Version=2014-10-31)
	for a in "$@"; do args+=(--data-urlencode "$a"); done
	curl "${args[@]}"
}

# field NAME XML VAR sets VAR to the text of the first <NAME> in XML.
field() {
	local v=${2#*<$1>}
	if [ "$v" = "$2" ]; then v=; else v=${v%%</$1>*}; fi
	printf -v "$3" %s "$v"
}

# describe ID sets st, pct, gb and ended (TaskEndTime) from DescribeExportTasks.
describe() {
	local x
	x=$(rds Action=DescribeExportTasks "ExportTaskIdentifier=$1") || die "DescribeExportTasks $1: $x"
	field Status "$x" st
	field PercentProgress "$x" pct
	field TotalExtractedDataInGB "$x" gb
	field TaskEndTime "$x" ended
}

# start_export ID CLUSTER [EXPORTONLY...]
start_export() {
	local id=$1 cluster=$2 x i=1
	shift 2
	local args=(Action=StartExportTask "ExportTaskIdentifier=$id" "SourceArn=$arn:$cluster" S3BucketName=bench
		IamRoleArn=arn:aws:iam::000000000000:role/r KmsKeyId=k)
	for o in "$@"; do
		args+=("ExportOnly.member.$i=$o")
		i=$((i + 1))
	done
	x=$(rds "${args[@]}") || die "StartExportTask $id: $x"
}

# run_export ID CLUSTER [EXPORTONLY...] starts an export and polls it to
# COMPLETE. Sets exp_s (wall from before the start to the task's
# TaskEndTime, which has millisecond precision, so that the poll interval
# adds nothing) and writes $work/progress_ID: "epoch status percent GB" per
# poll, after a first line "epoch START".
run_export() {
	local id=$1 t0=$EPOCHREALTIME log=$work/progress_$1
	echo "$t0 START" >"$log"
	start_export "$@"
	while :; do
		describe "$id"
		echo "$EPOCHREALTIME $st $pct $gb" >>"$log"
		case $st in
		COMPLETE) break ;;
		FAILED | CANCELED) die "export $id $st: $(rds Action=DescribeExportTasks "ExportTaskIdentifier=$id")" ;;
		esac
		sleep "$poll"
	done
	exp_s=$(calc %.3f "$(date -d "$ended" +%s.%N) - $t0")
}

# export_pg NAME ROWS: a fresh server exports ${kind}_ROWS; sets exp_s,
# rss, cpu, parquet (MB) and files.
export_pg() {
	local name=$1 t=${kind}_$2 prof=
	server_start pg
	if [ -n "$profile" ] && [ "$name" = "run$runs" ]; then
		(sleep 0.2 && curl -s -o "$profile" "http://$paddr/debug/pprof/profile?seconds=${PROFILE_SECONDS:-5}") &
		prof=$!
	fi
	run_export "$name" bench "$db.public.$t"
	rss=$(rss_mib)
	cpu=$(cpu_s)
	parquet=$(du -sb "$work/data/s3" | awk '{ printf "%.0f", $1 / 1e6 }')
	files=$(aws --endpoint-url "$url" s3 ls --recursive "s3://bench/$name/" | grep -c '/part-' || true)
	if [ -n "$prof" ]; then wait "$prof"; fi
	server_stop
}

# ---------------------------------------------------------------- targets

t1_exports=() # "name exp_s rss" of target 1's exports, for targets 4 and 7

target1() {
	local blocks half t0 i heap
	local copy=() two=() duck=() exp=() r_copy=() r_two=() r_duck=() cpg=()
	ensure_pg_table "$kind" "$rows"
	heap=$(psql_q "$pg/$db" -c "SELECT pg_relation_size('$table')")
	blocks=$((heap / 8192))
	half=$((blocks / 2))
	echo "== 1: $table, $((heap / 1000000)) MB heap, $blocks blocks"
	printf '  %3s  %7s  %7s  %7s  %8s  %6s  %6s  %6s  %8s  %6s  %6s  %7s  %5s\n' run "COPY s" "2-conn" "DuckDB" "export s" "/COPY" "/Duck" "/2conn" "peak RSS" "CPU s" "CPU/GB" Parquet files
	for i in $(seq 1 "$runs"); do
		t0=$EPOCHREALTIME
		psql -q "$pg/$db" -c "COPY $table TO STDOUT (FORMAT binary)" >/dev/null
		copy+=("$(since "$t0")")

		t0=$EPOCHREALTIME
		psql -q "$pg/$db" -c "COPY (SELECT * FROM $table WHERE ctid >= '(0,0)'::tid AND ctid < '($half,0)'::tid) TO STDOUT (FORMAT binary)" >/dev/null &
		local a=$!
		psql -q "$pg/$db" -c "COPY (SELECT * FROM $table WHERE ctid >= '($half,0)'::tid AND ctid < '($((blocks + 1)),0)'::tid) TO STDOUT (FORMAT binary)" >/dev/null &
		local b=$!
		wait $a || die "ctid COPY failed"
		wait $b || die "ctid COPY failed"
		two+=("$(since "$t0")")

		t0=$EPOCHREALTIME
		psql -q "$pg/$db" -c "COPY $table TO STDOUT (FORMAT csv)" | "$work/csv2parquet" -o "$work/duck.parquet" ${duck_codec:+-compression "$duck_codec"}
		duck+=("$(since "$t0")")
		rm -f "$work/duck.parquet"

		export_pg "run$i" "$rows"
		exp+=("$exp_s")
		t1_exports+=("run$i $exp_s $rss")
		r_copy+=("$(calc %.3f "$exp_s / ${copy[-1]}")")
		r_duck+=("$(calc %.3f "$exp_s / ${duck[-1]}")")
		r_two+=("$(calc %.3f "$exp_s / ${two[-1]}")")
		cpg+=("$(calc %.2f "$cpu / ($heap / 1e9)")")
		printf '  %3s  %7.2f  %7.2f  %7.2f  %8.2f  %5.2fx  %5.2fx  %5.2fx  %4s MiB  %6s  %6s  %4s MB  %5s\n' "$i" "${copy[-1]}" "${two[-1]}" "${duck[-1]}" \
			"$exp_s" "${r_copy[-1]}" "${r_duck[-1]}" "${r_two[-1]}" "$rss" "$cpu" "${cpg[-1]}" "$parquet" "$files"
	done
	local e r
	e=$(median "${exp[@]}")
	r=$(median "${r_copy[@]}")
	row "1 PG vs psql COPY binary" "$(calc %.2f "$(median "${copy[@]}")")" "$(calc %.2f "$e")" "$(calc %.2fx "$r")" "<= 1.00x" "$(verdict le "$r" 1.0)"
	r=$(median "${r_duck[@]}")
	row "1 PG vs COPY csv | DuckDB" "$(calc %.2f "$(median "${duck[@]}")")" "$(calc %.2f "$e")" "$(calc %.2fx "$r")" "<= 0.67x" "$(verdict le "$r" 0.67)"
	r=$(median "${r_two[@]}")
	row "1 PG vs 2-conn COPY (stretch)" "$(calc %.2f "$(median "${two[@]}")")" "$(calc %.2f "$e")" "$(calc %.2fx "$r")" "<= 1.25x" "$(verdict le "$r" 1.25) (info)"
	r=$(median "${cpg[@]}")
	row "1 PG server CPU per GB of heap" - "$r s/GB" "$r CPU-s/GB" "<= 10 CPU-s/GB" "$(verdict le "$r" 10)"
	[ -n "$duck_codec" ] || note "1: the DuckDB pipeline writes DuckDB's default Parquet (Snappy); DUCKDB_COMPRESSION=gzip matches the export's codec"
}

target2() {
	local t0 i ref=() exp=() ratio=() rs=() cpg=() heap cpu
	ensure_my_table "$kind" "$rows"
	heap=$(my -N -e "SELECT data_length FROM information_schema.TABLES WHERE table_schema = '$db' AND table_name = '$table'")
	echo "== 2: MariaDB $db.$table, $((heap / 1000000)) MB (InnoDB data_length)"
	for i in $(seq 1 "$runs"); do
		t0=$EPOCHREALTIME
		my --quick -e "SELECT * FROM $db.$table" >/dev/null
		ref+=("$(since "$t0")")
		server_start my
		local prof=
		if [ -n "$profile" ] && [ "$i" = "$runs" ]; then
			(sleep 0.2 && curl -s -o "${profile%.*}.my.${profile##*.}" "http://$paddr/debug/pprof/profile?seconds=${PROFILE_SECONDS:-5}") &
			prof=$!
		fi
		run_export "my$i" benchmy "$db.$table"
		if [ -n "$prof" ]; then wait "$prof"; fi
		exp+=("$exp_s")
		rs+=("$(rss_mib)")
		ratio+=("$(calc %.3f "$exp_s / ${ref[-1]}")")
		cpu=$(cpu_s)
		cpg+=("$(calc %.2f "$cpu / ($heap / 1e9)")")
		printf '  run %s: mariadb --quick %.2f s, export %.2f s, %.2fx, peak RSS %s MiB, CPU %s s, %s CPU-s/GB\n' "$i" "${ref[-1]}" "$exp_s" "${ratio[-1]}" "${rs[-1]}" "$cpu" "${cpg[-1]}"
		server_stop
	done
	local r
	r=$(median "${ratio[@]}")
	row "2 MariaDB vs mariadb --quick" "$(calc %.2f "$(median "${ref[@]}")")" "$(calc %.2f "$(median "${exp[@]}")")" "$(calc %.2fx "$r")" "<= 1.00x" "$(verdict le "$r" 1.0)"
	r=$(median "${cpg[@]}")
	row "2 MariaDB server CPU per GB of data" - "$r s/GB" "$r CPU-s/GB" "<= 10 CPU-s/GB" "$(verdict le "$r" 10)"
}

target3() {
	local list parts tabs success info tinfo complete ok=true
	ensure_small_db
	echo "== 3: $small_db, $small_tables tables of 100 rows"
	server_start small
	run_export small small
	list=$(aws --endpoint-url "$url" s3 ls --recursive s3://bench/small/ | awk '{ print $4 }')
	parts=$(grep -c '/part-' <<<"$list" || true)
	tabs=$(awk -F/ '/\/part-/ { print $2 "/" $3 }' <<<"$list" | sort -u | wc -l)
	success=$(grep -c '/_SUCCESS$' <<<"$list" || true)
	info=$(grep -cx 'small/export_info_small.json' <<<"$list" || true)
	tinfo=$(grep -cx "small/export_tables_info_small_from_1_to_$small_tables.json" <<<"$list" || true)
	complete=$(curl -sSf --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test \
		-H "x-amz-content-sha256: $empty_sha256" \
		"$url/bench/small/export_tables_info_small_from_1_to_$small_tables.json" 2>/dev/null | grep -o '"status":"COMPLETE"' | wc -l || true)
	server_stop
	[ "$tabs" = "$small_tables" ] && [ "$success" = "$small_tables" ] && [ "$info" = 1 ] && [ "$tinfo" = 1 ] && [ "$complete" = "$small_tables" ] || ok=false
	echo "  export $exp_s s; objects: $parts part files in $tabs tables, $success _SUCCESS, export_info $info, export_tables_info $tinfo ($complete COMPLETE)"
	$ok || note "3: missing objects: $tabs/$small_tables tables with part files, $success _SUCCESS, export_info $info, export_tables_info $tinfo with $complete COMPLETE"
	local res=FAIL
	if $ok && le "$exp_s" 2; then res=PASS; fi
	row "3 $small_tables tables, Start->COMPLETE" - "$(calc %.2f "$exp_s")" "$(calc %.2f "$exp_s") s, objects $($ok && echo ok || echo MISSING)" "<= 2 s, objects" "$res"
}

target4() {
	local list=() n e r lo hi spread
	echo "== 4: peak RSS by table size"
	if [ ${#t1_exports[@]} -gt 0 ]; then
		for e in "${t1_exports[@]}"; do list+=("$rows ${e##* }"); done
	else
		ensure_pg_table "$kind" "$rows"
		export_pg rss "$rows"
		list+=("$rows $rss")
	fi
	for n in $scales; do
		[ "$n" = "$rows" ] && continue
		ensure_pg_table "$kind" "$n"
		export_pg rss "$n"
		list+=("$n $rss")
		echo "  ${kind}_$n: export $exp_s s, peak RSS $rss MiB, CPU $cpu s"
	done
	r=$(printf '%s\n' "${list[@]}" | awk '{ printf "%s%s rows %s MiB", sep, $1, $2; sep = ", " }')
	echo "  $r"
	lo=$(printf '%s\n' "${list[@]}" | awk '{ print $2 }' | sort -g | head -1)
	hi=$(printf '%s\n' "${list[@]}" | awk '{ print $2 }' | sort -g | tail -1)
	spread=$(calc %.1f "($hi - $lo) * 100 / $lo")
	local sizes res=FAIL
	sizes=$(for n in $(printf '%s\n' "${list[@]}" | awk '{ print $1 }' | sort -gu); do human "$n"; done | paste -sd/)
	if le "$hi" "$rss_limit_mib" && le "$spread" 10; then res=PASS; fi
	row "4 peak RSS ($sizes rows)" - "$hi MiB" "max $hi MiB, spread $spread%" "<= 300 MiB, <= 10%" "$res"
}

target5() {
	local t=${kind}_$cancel_rows ref base i delay x tc lat=() missed=0 g conns uploads mpu end
	ensure_pg_table "$kind" "$cancel_rows"
	echo "== 5: $cancels cancels of $t exports"
	server_start pg
	run_export c0 bench "$db.public.$t"
	ref=$exp_s
	sleep 1
	base=$(goroutines)
	echo "  full export $ref s; $base goroutines after it"
	# Cancel points are uniform over 0-80% of the full export's time; a
	# cancel that comes after its export finished is retried with another
	# export (at most CANCELS more).
	i=0
	while [ ${#lat[@]} -lt "$cancels" ] && [ "$i" -lt $((2 * cancels)) ]; do
		i=$((i + 1))
		delay=$(calc %.3f "$RANDOM / 32768 * 0.8 * $ref")
		start_export "c$i" bench "$db.public.$t"
		sleep "$delay"
		if ! x=$(rds Action=CancelExportTask "ExportTaskIdentifier=c$i"); then
			[[ $x == *InvalidExportTaskState* ]] || die "CancelExportTask c$i: $x"
			missed=$((missed + 1)) # it had already finished
			printf '  c%s: cancel at %.2f s came after the export finished\n' "$i" "$delay"
			continue
		fi
		tc=$EPOCHREALTIME
		end=$(calc %.3f "$tc + 60")
		while :; do
			describe "c$i"
			case $st in
			CANCELED) break ;;
			COMPLETE | FAILED) die "export c$i cancelled after ${delay}s ended $st" ;;
			esac
			le "$EPOCHREALTIME" "$end" || die "export c$i still $st a minute after CancelExportTask"
			sleep 0.01
		done
		lat+=("$(since "$tc")")
		printf '  c%s: cancel at %.2f s, CANCELED after %.3f s\n' "$i" "$delay" "${lat[-1]}"
	done
	# Nothing left behind, after a settle of up to 10 s.
	end=$(calc %.3f "$EPOCHREALTIME + 10")
	while :; do
		g=$(goroutines)
		conns=$(psql_q "$pg/$db" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()")
		uploads=$(ls -A "$work/data/s3/uploads" 2>/dev/null | wc -l)
		if [ "$g" -le "$base" ] && [ "$conns" = 0 ] && [ "$uploads" = 0 ]; then break; fi
		le "$EPOCHREALTIME" "$end" || break
		sleep 0.2
	done
	mpu=$(aws --endpoint-url "$url" s3api list-multipart-uploads --bucket bench --query 'length(Uploads || `[]`)' --output text)
	if [ "$g" -gt "$base" ]; then
		echo "  goroutines after the cancels (the $base of the baseline included):"
		curl -sf "http://$paddr/debug/pprof/goroutine?debug=1" | awk '/^[0-9]+ @/ { n = $1; getline; getline; sub(/^#[ \t]*0x[0-9a-f]+[ \t]*/, ""); print "    " n "  " $1 }' | head -40
	fi
	server_stop
	local p99 n=${#lat[@]}
	[ "$n" -gt 0 ] || die "no cancel landed before its export finished"
	p99=$(printf '%s\n' "${lat[@]}" | sort -g | awk -v n="$n" '{ a[NR] = $1 } END { k = int(0.99 * n); if (k < 0.99 * n) k++; print a[k] }')
	echo "  cancel to CANCELED: p50 $(median "${lat[@]}") s, p99 $p99 s over $n cancels ($missed more came after the export had finished)"
	echo "  afterwards: goroutines $base -> $g, PostgreSQL connections $conns, uploads $uploads on disk, $mpu listed"
	row "5 cancel->CANCELED p99 ($(human "$cancel_rows") rows)" - "$(calc %.0f "$p99 * 1000") ms" "p99 $(calc %.2f "$p99") s, n=$n" "< 1 s" "$(verdict le "$p99" 0.999)"
	row "5 nothing left after cancels" - - "goroutines +$((g - base)), pg $conns, uploads $mpu" "+0, 0, 0" \
		"$(verdict test "$g" -le "$base" -a "$conns" = 0 -a "$mpu" = 0 -a "$uploads" = 0)"
	[ "$missed" = 0 ] || note "5: $missed more cancels came after their export had finished (not counted, replaced by others)"
}

target6() {
	local out line
	echo "== 6: go test -run '^\$' -bench 'ControlPlane\$' -benchtime 1x ./cmd/rdsexport"
	# A failure here is reported after the table (and the script exits 1)
	# rather than losing the other targets' measurements.
	if ! out=$(go test -run '^$' -bench 'ControlPlane$' -benchtime 1x ./cmd/rdsexport 2>&1) ||
		! line=$(grep '^BenchmarkControlPlane-' <<<"$out"); then
		echo "$out" | tail -40 >&2
		row "6 control plane" - - "BenchmarkControlPlane failed" "" ERROR
		failed=true
		return
	fi
	metric() { awk -v u="$1" '{ for (i = 3; i < NF; i++) if ($(i + 1) == u) print $i }' <<<"$line"; }
	echo "  $(tr -s ' \t' ' ' <<<"$line")"
	local d s
	d=$(metric describe-p99-ms)
	s=$(metric start-p99-ms)
	row "6 Describe p99, 100k tasks" - "$d ms" "p99 $d ms, p50 $(metric describe-p50-ms)" "< 10 ms" "$(verdict le "$d" 9.999)"
	row "6 Start p99, 2 exports running" - "$s ms" "p99 $s ms, p50 $(metric start-p50-ms)" "< 20 ms" "$(verdict le "$s" 19.999)"
	note "6: slowest Describe filters (p99 ms): $(for u in status-complete status-failed status-active source-arn-old source-arn-running source-bucket; do printf '%s %s, ' "$u" "$(metric "$u-p99-ms")"; done | sed 's/, $//'); fewest exports IN_PROGRESS seen: $(metric exports-running-min)"
}

target7() {
	local e name maxgap=0 mono=yes g d
	echo "== 7: PercentProgress of the target-1 exports (polled every ${poll} s)"
	if [ ${#t1_exports[@]} -eq 0 ]; then
		ensure_pg_table "$kind" "$rows"
		export_pg run1 "$rows"
		t1_exports+=("run1 $exp_s $rss")
	fi
	for e in "${t1_exports[@]}"; do
		name=${e%% *}
		# Gaps between changes of PercentProgress, from the start to COMPLETE.
		read -r g d gbdec changes <<<"$(awk '
			NR == 1 { last = $1; p = 0; gb = 0; next }
			{ if ($3 != p || $2 == "COMPLETE") { if ($1 - last > max) max = $1 - last; last = $1; n++ }
			  if ($3 < p) dec = 1; if ($4 < gb) gdec = 1; p = $3; gb = $4 }
			END { printf "%.2f %d %d %d", max, dec, gdec, n }' "$work/progress_$name")"
		echo "  $name: $changes changes, max interval $g s, decreased: $([ "$d" = 1 ] && echo yes || echo no), GB decreased: $([ "$gbdec" = 1 ] && echo yes || echo no)"
		maxgap=$(maxof "$maxgap" "$g")
		[ "$d" = 0 ] && [ "$gbdec" = 0 ] || mono=no
	done
	local res=FAIL
	if le "$maxgap" 2 && [ $mono = yes ]; then res=PASS; fi
	row "7 PercentProgress refresh" - - "max gap $maxgap s, monotonic $mono" "<= 2 s, monotonic" "$res"
}

target8() {
	local out line
	echo "== 8: go test -run '^\$' -bench ControlPlanePostgres -benchtime 1x ./cmd/rdsexport"
	scripts/versitygw.sh >/dev/null || die "install versitygw"
	if ! out=$(go test -run '^$' -bench ControlPlanePostgres -benchtime 1x ./cmd/rdsexport 2>&1) ||
		! line=$(grep '^BenchmarkControlPlanePostgres' <<<"$out"); then
		echo "$out" | tail -40 >&2
		row "8 control plane, PostgreSQL store" - - "BenchmarkControlPlanePostgres failed" "" ERROR
		failed=true
		return
	fi
	metric() { awk -v u="$1" '{ for (i = 3; i < NF; i++) if ($(i + 1) == u) print $i }' <<<"$line"; }
	echo "  $(tr -s ' \t' ' ' <<<"$line")"
	local d
	d=$(metric describe-idle-p99-ms)
	row "8 Describe p99, 100k tasks, PG store" - "$d ms" "p99 $d ms, p50 $(metric describe-idle-p50-ms)" "< 10 ms" "$(verdict le "$d" 9.999)"
	note "8: slowest Describe filters on the PostgreSQL store (p99 ms): $(for u in status-complete status-failed status-active source-arn-old source-arn-running source-bucket; do printf '%s %s, ' "$u" "$(metric "$u-p99-ms")"; done | sed 's/, $//')"
}

target9() {
	local out line
	echo "== 9: go test -run '^\$' -bench ClusterScaling -benchtime 1x ./cmd/rdsexport ($kind, ROWS=$rows)"
	ensure_pg_table "$kind" "$rows"
	scripts/versitygw.sh >/dev/null || die "install versitygw"
	if ! out=$(RDSEXPORT_BENCH_SOURCE="$pg/$db" RDSEXPORT_BENCH_TABLE="public.$table" RDSEXPORT_BENCH_NODE_CPU="${NODE_CPU:-0.3}" \
		go test -run '^$' -bench ClusterScaling -benchtime 1x -v ./cmd/rdsexport 2>&1) ||
		! line=$(grep '^BenchmarkClusterScaling' <<<"$out"); then
		echo "$out" | grep -v 'level=' | tail -40 >&2
		row "9 scaling over nodes" - - "BenchmarkClusterScaling failed" "" ERROR
		failed=true
		return
	fi
	metric() { awk -v u="$1" '{ for (i = 3; i < NF; i++) if ($(i + 1) == u) print $i }' <<<"$line"; }
	grep 'node(s) at' <<<"$out" | sed 's/^ *cluster_bench_test.go:[0-9]*: /  /'
	row "9 1/2/3 nodes at ${NODE_CPU:-0.3} CPU each" "$(metric s-1node)" "$(metric s-3nodes) s" \
		"2 nodes $(metric speedup-2nodes)×, 3 nodes $(metric speedup-3nodes)×" "(informational)" -
}

# ---------------------------------------------------------------- main

go build -o "$work/rdsexport" ./cmd/rdsexport
if want 1; then go build -o "$work/csv2parquet" ./scripts/csv2parquet; fi
for n in 1 2 3 4 5 6 7 8 9; do
	if want $n; then "target$n"; fi
done

echo
echo "rdsexport performance targets ($kind, ROWS=$rows, RUNS=$runs$([ -n "$export_conns" ] && echo ", CONNECTIONS=$export_conns"); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-36s %11s %12s %-32s %-20s %s\n' target "reference s" rdsexport "ratio/value" goal result
for r in "${rows_out[@]}"; do
	IFS=$'\x1f' read -r a b c d e f <<<"$r"
	printf '%-36s %11s %12s %-32s %-20s %s\n' "$a" "$b" "$c" "$d" "$e" "$f"
done
for n in "${notes[@]}"; do echo "note $n"; done
if $failed; then exit 1; fi
exit 0
