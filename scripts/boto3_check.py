"""Drives rdsexport with boto3: start and cancel exports, paginate
DescribeExportTasks with the real paginator, and check modeled errors.
Usage: python3 scripts/boto3_check.py ENDPOINT_URL"""
import sys
import time

import boto3

url = sys.argv[1]
rds = boto3.client("rds", endpoint_url=url, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
arn = rds.describe_db_clusters(DBClusterIdentifier="demo")["DBClusters"][0]["DBClusterArn"]


def wait(task_id, want):
    for _ in range(300):
        status = rds.describe_export_tasks(ExportTaskIdentifier=task_id)["ExportTasks"][0]["Status"]
        if status in want:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{task_id}: still {status}, want {want}")


# 25 tasks, each canceled at once so the source is free for the next.
for i in range(25):
    task_id = f"boto3-{i:02d}"
    t = rds.start_export_task(ExportTaskIdentifier=task_id, SourceArn=arn, S3BucketName="rdsexport-demo",
                              IamRoleArn="arn:aws:iam::000000000000:role/export", KmsKeyId="alias/export",
                              ExportOnly=[])
    assert t["Status"] == "STARTING" and t["SourceType"] == "CLUSTER", t
    assert "ExportOnly" not in t, t  # an empty list means everything and is not echoed
    try:
        c = rds.cancel_export_task(ExportTaskIdentifier=task_id)
        assert c["Status"] == "CANCELING", c
    except rds.exceptions.InvalidExportTaskStateFault:
        pass  # it finished first
    wait(task_id, ("CANCELED", "COMPLETE"))

pages = rds.get_paginator("describe_export_tasks").paginate(
    Filters=[{"Name": "export-task-identifier", "Values": [f"boto3-{i:02d}" for i in range(25)]}],
    PaginationConfig={"PageSize": 20})
seen = [t["ExportTaskIdentifier"] for page in pages for t in page["ExportTasks"]]
assert seen == [f"boto3-{i:02d}" for i in range(25)], seen
print("ok: boto3 paginator, 25 tasks in 2 pages")

try:
    rds.cancel_export_task(ExportTaskIdentifier="missing-task")
    raise AssertionError("cancel of a missing task succeeded")
except rds.exceptions.ExportTaskNotFoundFault as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
print("ok: boto3 ExportTaskNotFoundFault 404")

try:
    rds.start_export_task(ExportTaskIdentifier="bad-prefix", SourceArn=arn, S3BucketName="rdsexport-demo",
                          IamRoleArn="arn:aws:iam::000000000000:role/export", KmsKeyId="k", S3Prefix="a:b")
    raise AssertionError("prefix with ':' accepted")
except rds.exceptions.ClientError as e:
    assert e.response["Error"]["Code"] == "InvalidParameterValue", e.response
print("ok: boto3 all passed")
