package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// StartExportTask validates in and accepts a new export task in status
// STARTING, then wakes the runner. The checks run in the order of spec
// §3.1, and the first failure is returned as an *export.Error:
//
//  1. MissingParameter: ExportTaskIdentifier, SourceArn, S3BucketName,
//     IamRoleArn or KmsKeyId is empty (checked in that order).
//  2. InvalidParameterValue: ExportTaskIdentifier is malformed (§7.1).
//  3. InvalidParameterValue: SourceArn is not the ARN of a snapshot,
//     cluster snapshot or cluster in partition aws (Partition), or is
//     longer than 2048 bytes; S3Prefix is longer than MaxS3PrefixBytes or
//     contains ':'.
//  4. DBSnapshotNotFound, DBClusterSnapshotNotFoundFault,
//     DBClusterNotFoundFault: the source does not exist for the caller. A
//     source ARN naming another account or region is not found either.
//     Snapshot ids compare with the stored lowercase identifiers;
//     automated ones (rds:<instance>-<time>) are looked up like any other.
//  5. ExportTaskAlreadyExists: the identifier is taken (in any status), or
//     another task of the same source is active, whatever the region or
//     case of its SourceArn (export.SourceKey).
//  6. InvalidExportSourceState: the source's engine cannot be exported or
//     the snapshot or cluster is not "available".
//
// A task of a snapshot has SourceType SNAPSHOT and SnapshotTime the
// snapshot's SnapshotCreateTime; ExportOnly is checked against the
// snapshot's engine.
//  7. InvalidExportOnly: see ParseExportOnly.
//  8. InvalidS3BucketFault: the bucket does not exist or cannot be reached,
//     or (in the embedded S3 server) belongs to another account.
//  9. IamRoleNotFound: IamRoleArn is not an IAM role ARN in partition
//     aws, or is longer than 2048 bytes (IAM's limit).
//  10. KMSKeyNotAccessibleFault: KmsKeyId is blank or longer than 2048
//     bytes (KMS's limit).
//
// Errors of the store or of the catalog are returned wrapped (internal);
// so is ErrNoCaller when ctx carries no export.Caller.
func (s *Service) StartExportTask(ctx context.Context, in StartExportTaskInput) (*export.Task, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}

	// 1. Required members, in model order.
	for _, p := range []struct{ name, value string }{
		{"ExportTaskIdentifier", in.ExportTaskIdentifier},
		{"SourceArn", in.SourceArn},
		{"S3BucketName", in.S3BucketName},
		{"IamRoleArn", in.IamRoleArn},
		{"KmsKeyId", in.KmsKeyId},
	} {
		if p.value == "" {
			return nil, missingParameter(p.name)
		}
	}

	// 2. Identifier syntax.
	if !validIdentifier(in.ExportTaskIdentifier) {
		return nil, invalidIdentifier("ExportTaskIdentifier")
	}

	// 3. SourceArn and S3Prefix syntax.
	src, sourceType, err := parseSourceARN(in.SourceArn)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if in.S3Prefix != nil {
		prefix = *in.S3Prefix
		if err := checkS3Prefix(prefix); err != nil {
			return nil, err
		}
	}

	// 4. The source exists.
	source, err := s.lookupSource(ctx, caller, src)
	if err != nil {
		return nil, err
	}

	// 5. Identifier free, source not busy. CreateTask repeats both checks
	// atomically; these early ones only fix the order of the errors.
	if err := s.checkNotTaken(ctx, caller, in.ExportTaskIdentifier, src); err != nil {
		return nil, err
	}

	// 6. The source can be exported.
	family := export.EngineFamily(source.engine)
	if family == "" {
		return nil, export.Errorf(export.CodeInvalidExportSourceState,
			"The engine %s of %s %s doesn't support exporting data to Amazon S3.", source.engine, source.label, source.id)
	}
	if source.status != "available" {
		return nil, export.Errorf(export.CodeInvalidExportSourceState,
			"%s %s is not available for export: its status is %s.", source.label, source.id, source.status)
	}

	// 7. ExportOnly. The task keeps the list as given; the parsed form only
	// validates it here.
	var exportOnly []string
	if len(in.ExportOnly) > 0 {
		if _, err := ParseExportOnly(in.ExportOnly, family); err != nil {
			return nil, err
		}
		exportOnly = append([]string(nil), in.ExportOnly...)
	}

	// 8. Bucket.
	if err := s.checkBucket(ctx, caller.AccountID, in.S3BucketName, in.IamRoleArn); err != nil {
		return nil, err
	}

	// 9, 10. Role and key.
	if err := checkIamRole(in.IamRoleArn); err != nil {
		return nil, err
	}
	if err := checkKmsKey(in.KmsKeyId); err != nil {
		return nil, err
	}

	now := s.now().UTC().Truncate(time.Microsecond)
	t := &export.Task{
		Identifier:    in.ExportTaskIdentifier,
		AccountID:     caller.AccountID,
		Region:        caller.Region,
		SourceArn:     in.SourceArn,
		SourceType:    sourceType,
		ExportOnly:    exportOnly,
		S3Bucket:      in.S3BucketName,
		S3Prefix:      prefix,
		IamRoleArn:    in.IamRoleArn,
		KmsKeyID:      in.KmsKeyId,
		Status:        export.StatusStarting,
		TaskStartTime: now,
		// For a live cluster the engine overwrites this with the moment its
		// consistent snapshot is taken (spec §2.1 [R]).
		SnapshotTime: now,
	}
	if !source.snapshotTime.IsZero() {
		t.SnapshotTime = source.snapshotTime
	}
	if err := s.store.CreateTask(ctx, t); err != nil {
		return nil, storeError(err, "create export task %s", t.Identifier)
	}
	s.logger.InfoContext(ctx, "export task accepted", "task_id", t.Identifier, "account_id", t.AccountID,
		"source_arn", t.SourceArn, "source_type", string(t.SourceType))
	if s.runner != nil {
		s.runner.Wake()
	}
	return t, nil
}

// exportSource is what check #6 needs to know of a source.
type exportSource struct {
	label  string // DBSnapshot, DBClusterSnapshot, DBCluster
	id     string
	engine string
	status string
	// snapshotTime is the moment of a snapshot's data; zero for a live
	// cluster.
	snapshotTime time.Time
}

// lookupSource is check #4: the source must exist in the caller's account
// and region. ARNs of other accounts or regions get the same not-found
// error as RDS gives for resources the caller cannot see. Snapshot ids
// compare with the stored lowercase identifiers, automated ones (rds:...)
// included; without a snapshot store no snapshot exists.
func (s *Service) lookupSource(ctx context.Context, caller export.Caller, src ARN) (exportSource, error) {
	name := src.ID
	if !src.ownedBy(caller) {
		name = src.String()
	}
	switch src.ResourceType {
	case ResourceSnapshot, ResourceClusterSnapshot:
		k := dbSnapshotKind
		if src.ResourceType == ResourceClusterSnapshot {
			k = clusterSnapshotKind
		}
		if !src.ownedBy(caller) || s.snapshots == nil {
			return exportSource{}, k.notFound(name)
		}
		id := strings.ToLower(src.ID)
		snap, err := s.snapshots.GetSnapshot(ctx, caller.AccountID, k.kind, id)
		if err != nil {
			if export.ErrorCode(err) == export.CodeInternalFailure {
				return exportSource{}, fmt.Errorf("get snapshot %s: %w", id, err)
			}
			return exportSource{}, k.notFound(name)
		}
		// Snapshots are regional; identifiers are unique per account.
		if snap.Region != "" && snap.Region != src.Region {
			return exportSource{}, k.notFound(name)
		}
		return exportSource{label: k.label, id: snap.Identifier, engine: snap.Engine, status: string(snap.Status),
			snapshotTime: snap.CreateTime}, nil
	}
	notFound := export.Errorf(export.CodeDBClusterNotFound, "DBCluster %s not found.", name)
	if !src.ownedBy(caller) || s.catalog == nil {
		return exportSource{}, notFound
	}
	c, ok, err := s.catalog.FindCluster(ctx, caller.AccountID, src.ID)
	if err != nil {
		return exportSource{}, fmt.Errorf("find cluster: %w", err)
	}
	if !ok {
		return exportSource{}, notFound
	}
	return exportSource{label: "DBCluster", id: c.Identifier, engine: c.Engine, status: c.Status}, nil
}

// checkNotTaken is check #5: no task with this identifier in any status,
// and no active task reading the same source. Sources compare by
// export.SourceKey (kind, account, lowercase identifier), not as strings:
// a cluster is one source in every region the server serves.
func (s *Service) checkNotTaken(ctx context.Context, caller export.Caller, id string, src ARN) error {
	_, err := s.store.GetTask(ctx, caller.AccountID, id)
	switch {
	case err == nil:
		return export.TaskAlreadyExists(id)
	case export.ErrorCode(err) != export.CodeExportTaskNotFound:
		return fmt.Errorf("get export task %s: %w", id, err)
	}
	active, err := s.store.ListTasks(ctx, export.TaskFilter{AccountID: caller.AccountID, Statuses: export.ActiveStatuses()})
	if err != nil {
		return fmt.Errorf("list active export tasks: %w", err)
	}
	key := export.SourceKey(src.String())
	for _, t := range active {
		if export.SourceKey(t.SourceArn) == key {
			return export.Errorf(export.CodeExportTaskAlreadyExists,
				"The export task %s for the source %s is already running.", t.Identifier, t.SourceArn)
		}
	}
	return nil
}

// checkBucket is check #8 (spec §7.3): the bucket exists and the
// caller's account may write into it. A failure to reach the bucket is
// reported to the caller like a missing bucket, and logged here. A bucket
// of another account is reported in the §11.1 words for a role that may
// not write it.
func (s *Service) checkBucket(ctx context.Context, accountID, bucket, role string) error {
	if s.buckets == nil {
		return errors.New("service: no Buckets configured")
	}
	exists, writable, err := s.buckets.BucketAccess(ctx, accountID, bucket)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("check bucket %s: %w", bucket, err)
		}
		s.logger.WarnContext(ctx, "bucket check failed", "bucket", bucket, "err", err)
		exists = false
	}
	switch {
	case !exists:
		return export.Errorf(export.CodeInvalidS3Bucket,
			"The S3 bucket %s isn't valid. Either it isn't located in the current AWS Region or it doesn't exist. "+
				"Review your S3 bucket name and retry the export.", bucket)
	case !writable:
		return export.Errorf(export.CodeInvalidS3Bucket,
			"The IAM role %s isn't authorized to call s3:PutObject on the S3 bucket %s: the bucket belongs to another account. "+
				"Review your permissions and retry the export.", role, bucket)
	}
	return nil
}
