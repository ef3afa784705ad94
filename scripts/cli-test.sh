#!/usr/bin/env bash
# Drives a real rdsexport server with the unmodified AWS CLI and boto3:
# describe the demo cluster, start an export, watch it, list and query the
# output, cancel, paginate, and check the error codes. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "cli-test: FAIL: $*" >&2; exit 1; }
command -v aws >/dev/null || fail "the AWS CLI is not installed"
python3 -c 'import boto3' 2>/dev/null || fail "boto3 is not installed"

work=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/rdsexport" ./cmd/rdsexport
"$work/rdsexport" demo --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/log" &
server_pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^rdsexport listening on \(http:[^ ]*\).*/\1/p' "$work/out")
[ -n "$url" ] || { cat "$work/log"; fail "server did not start"; }

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
rds() { aws --endpoint-url "$url" rds "$@"; }
s3() { aws --endpoint-url "$url" s3 "$@"; }
expect_error() { # code command...
	local code=$1; shift
	if out=$("$@" 2>&1); then fail "$* succeeded, want $code"; fi
	grep -q "($code)" <<<"$out" || fail "$*: got '$out', want ($code)"
	echo "ok: $code"
}

arn=$(rds describe-db-clusters --db-cluster-identifier demo --query 'DBClusters[0].DBClusterArn' --output text)
[ "$arn" = "arn:aws:rds:us-east-1:000000000000:cluster:demo" ] || fail "cluster ARN $arn"
engine=$(rds describe-db-clusters --query 'DBClusters[0].Engine' --output text)
[ "$engine" = aurora-postgresql ] || fail "engine $engine"

status=$(rds start-export-task --export-task-identifier cli-export --source-arn "$arn" \
	--s3-bucket-name rdsexport-demo --s3-prefix exports/cli --iam-role-arn arn:aws:iam::000000000000:role/export \
	--kms-key-id alias/export --export-only rdsexport_demo.shop \
	--query 'Status' --output text)
[ "$status" = STARTING ] || fail "start status $status"
for _ in $(seq 1 300); do
	status=$(rds describe-export-tasks --export-task-identifier cli-export --query 'ExportTasks[0].Status' --output text)
	[ "$status" = COMPLETE ] && break
	[ "$status" = FAILED ] && fail "export failed: $(rds describe-export-tasks --export-task-identifier cli-export)"
	sleep 0.2
done
[ "$status" = COMPLETE ] || fail "export not complete: $status"
echo "ok: export COMPLETE"

n=$(rds describe-export-tasks --filters Name=status,Values=complete --query 'length(ExportTasks)' --output text)
[ "$n" = 1 ] || fail "status filter: $n tasks"
n=$(rds describe-export-tasks --filters Name=status,Values=COMPLETE --query 'length(ExportTasks)' --output text)
[ "$n" = 0 ] || fail "uppercase status filter matched $n tasks"
n=$(rds describe-export-tasks --source-type CLUSTER --filters Name=s3-bucket,Values=rdsexport-demo --query 'length(ExportTasks)' --output text)
[ "$n" = 1 ] || fail "source type + bucket filter: $n tasks"

s3 ls "s3://rdsexport-demo/exports/cli/cli-export/" --recursive >"$work/ls"
grep -q 'exports/cli/cli-export/export_info_cli-export.json' "$work/ls" || fail "no export_info manifest"
grep -q 'exports/cli/cli-export/export_tables_info_cli-export_from_1_to_' "$work/ls" || fail "no tables manifest"
grep -Eq 'cli-export/rdsexport_demo/shop.customers/1/part-00000-[0-9a-f-]{36}-c000.gz.parquet' "$work/ls" || fail "no customers part file"
for b in 1 2; do grep -q "shop.orders/$b/_SUCCESS" "$work/ls" || fail "no _SUCCESS in orders batch $b"; done
echo "ok: s3 layout"
part=$(grep -Eo 'exports/cli/cli-export/rdsexport_demo/shop.customers/1/part-[^ ]*\.gz\.parquet' "$work/ls" | head -1)
s3 cp "s3://rdsexport-demo/$part" "$work/part.parquet" >/dev/null || fail "aws s3 cp of $part"
[ "$(head -c 4 "$work/part.parquet")" = PAR1 ] || fail "the copied part file is not Parquet"
echo "ok: s3 cp of a part file"
s3 cp "s3://rdsexport-demo/exports/cli/cli-export/export_info_cli-export.json" - | python3 -c '
import json, sys
info = json.load(sys.stdin)
assert info["status"] == "COMPLETE" and info["exportedFilesPath"] == "exports/cli/cli-export", info'
echo "ok: manifest"

expect_error ExportTaskAlreadyExists rds start-export-task --export-task-identifier cli-export --source-arn "$arn" \
	--s3-bucket-name rdsexport-demo --iam-role-arn arn:aws:iam::000000000000:role/export --kms-key-id k
expect_error InvalidExportTaskStateFault rds cancel-export-task --export-task-identifier cli-export
expect_error ExportTaskNotFound rds cancel-export-task --export-task-identifier no-such-task
expect_error InvalidParameterValue rds start-export-task --export-task-identifier 'bad--id' --source-arn "$arn" \
	--s3-bucket-name rdsexport-demo --iam-role-arn arn:aws:iam::000000000000:role/export --kms-key-id k
expect_error DBClusterNotFoundFault rds start-export-task --export-task-identifier nope --source-arn "${arn%demo}other" \
	--s3-bucket-name rdsexport-demo --iam-role-arn arn:aws:iam::000000000000:role/export --kms-key-id k
expect_error InvalidS3BucketFault rds start-export-task --export-task-identifier nobucket --source-arn "$arn" \
	--s3-bucket-name no-such-bucket --iam-role-arn arn:aws:iam::000000000000:role/export --kms-key-id k
expect_error InvalidParameterValue rds describe-export-tasks --max-records 101
expect_error InvalidParameterValue rds describe-export-tasks --filters Name=colour,Values=red
expect_error DBClusterNotFoundFault rds describe-db-clusters --db-cluster-identifier missing

# Snapshots: create, wait with the CLI waiters, export, delete.
rds create-db-cluster-snapshot --db-cluster-snapshot-identifier cli-snap --db-cluster-identifier demo >/dev/null
rds wait db-cluster-snapshot-available --db-cluster-snapshot-identifier cli-snap
rds create-db-snapshot --db-snapshot-identifier cli-db-snap --db-instance-identifier demo-db >/dev/null
rds wait db-snapshot-available --db-snapshot-identifier cli-db-snap
echo "ok: snapshot waiters"
snap_arn=$(rds describe-db-cluster-snapshots --db-cluster-snapshot-identifier cli-snap --query 'DBClusterSnapshots[0].DBClusterSnapshotArn' --output text)
[ "$snap_arn" = "arn:aws:rds:us-east-1:000000000000:cluster-snapshot:cli-snap" ] || fail "cluster snapshot ARN $snap_arn"
type=$(rds start-export-task --export-task-identifier cli-snap-export --source-arn "$snap_arn" \
	--s3-bucket-name rdsexport-demo --iam-role-arn arn:aws:iam::000000000000:role/export --kms-key-id k \
	--export-only rdsexport_demo.shop.customers --query SourceType --output text)
[ "$type" = SNAPSHOT ] || fail "snapshot export source type $type"
for _ in $(seq 1 300); do
	status=$(rds describe-export-tasks --export-task-identifier cli-snap-export --query 'ExportTasks[0].Status' --output text)
	[ "$status" = COMPLETE ] && break
	[ "$status" = FAILED ] && fail "snapshot export failed"
	sleep 0.2
done
[ "$status" = COMPLETE ] || fail "snapshot export not complete: $status"
s3 ls s3://rdsexport-demo/cli-snap-export/rdsexport_demo/shop.customers/1/ | grep -q '.gz.parquet' || fail "no parquet from the snapshot export"
echo "ok: export from a snapshot"
expect_error DBSnapshotAlreadyExists rds create-db-snapshot --db-snapshot-identifier cli-db-snap --db-instance-identifier demo-db
expect_error DBInstanceNotFound rds create-db-snapshot --db-snapshot-identifier other --db-instance-identifier nope
expect_error DBSnapshotNotFound rds describe-db-snapshots --db-snapshot-identifier nope
expect_error DBClusterSnapshotNotFoundFault rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier nope
expect_error InvalidParameterValue rds create-db-snapshot --db-snapshot-identifier 'bad--id' --db-instance-identifier demo-db
rds delete-db-snapshot --db-snapshot-identifier cli-db-snap >/dev/null
rds wait db-snapshot-deleted --db-snapshot-identifier cli-db-snap
rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier cli-snap >/dev/null
rds wait db-cluster-snapshot-deleted --db-cluster-snapshot-identifier cli-snap
echo "ok: snapshot delete waiters"

msgs=$(rds describe-events --source-type db-snapshot --source-identifier cli-db-snap --query 'Events[].Message' --output json | tr -d '\n ')
[ "$msgs" = '["CreatingmanualDBsnapshot.","ManualDBsnapshothasbeencreated.","Deletedusersnapshot."]' ] || fail "db snapshot events $msgs"
msg=$(rds describe-events --duration 120 --source-type db-cluster-snapshot --source-identifier cli-snap --event-categories notification --query 'Events[0].Message' --output text)
[ "$msg" = "DB cluster snapshot export task completed. Export task: cli-snap-export." ] || fail "export event $msg"
n=$(rds describe-events --source-type db-cluster --source-identifier demo --query 'length(Events)' --output text)
[ "$n" -ge 1 ] || fail "no events of the live-cluster exports"
expect_error InvalidParameterValue rds describe-events --max-records 5
expect_error InvalidParameterCombination rds describe-events --source-identifier cli-snap
echo "ok: describe-events"

python3 scripts/boto3_check.py "$url"
echo "cli-test: all passed"
