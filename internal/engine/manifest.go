package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// manifestError marks a failure to write the manifests, which RDS reports
// with its own FailureCause (spec §11.1).
type manifestError struct{ err error }

func (e *manifestError) Error() string { return "write manifests: " + e.err.Error() }
func (e *manifestError) Unwrap() error { return e.err }

// exportInfo is export_info_<id>.json (spec §8.4).
type exportInfo struct {
	ExportTaskIdentifier  string   `json:"exportTaskIdentifier"`
	SourceArn             string   `json:"sourceArn"`
	ExportOnly            []string `json:"exportOnly"`
	SnapshotTime          string   `json:"snapshotTime"`
	TaskStartTime         string   `json:"taskStartTime"`
	TaskEndTime           string   `json:"taskEndTime"`
	S3Bucket              string   `json:"s3Bucket"`
	S3Prefix              string   `json:"s3Prefix"`
	ExportedFilesPath     string   `json:"exportedFilesPath"`
	IamRoleArn            string   `json:"iamRoleArn"`
	KmsKeyID              string   `json:"kmsKeyId"`
	Status                string   `json:"status"`
	PercentProgress       int      `json:"percentProgress"`
	TotalExportedDataInGB float64  `json:"totalExportedDataInGB"`
}

type tablesInfo struct {
	PerTableStatus []tableStatus `json:"perTableStatus"`
}

type tableStatus struct {
	Target          string           `json:"target"`
	Status          string           `json:"status,omitempty"`
	SizeGB          *float64         `json:"sizeGB,omitempty"`
	TableStatistics *tableStatistics `json:"tableStatistics,omitempty"`
	SchemaMetadata  *schemaMetadata  `json:"schemaMetadata,omitempty"`
	WarningMessage  string           `json:"warningMessage,omitempty"`
}

type tableStatistics struct {
	ExtractedDataSizeGB float64          `json:"extractedDataSizeGB"`
	PartitioningInfo    partitioningInfo `json:"partitioningInfo"`
}

type partitioningInfo struct {
	NumberOfPartitions          int `json:"numberOfPartitions"`
	NumberOfCompletedPartitions int `json:"numberOfCompletedPartitions"`
}

type schemaMetadata struct {
	OriginalTypeMappings []Column `json:"originalTypeMappings"`
}

const isoMillis = "2006-01-02T15:04:05.000Z"

// writeManifests writes both manifest files at the export root. Only a task
// about to become COMPLETE has manifests (spec §8.4).
func (r *taskRun) writeManifests(ctx context.Context, results []tableResult, w Warnings, end time.Time) error {
	t := r.task
	cur, err := r.e.p.Store.GetTask(ctx, t.AccountID, t.Identifier)
	if err != nil {
		return err
	}
	if cur.Status != export.StatusInProgress {
		return export.ErrTaskCanceled // a cancel came first: no manifests
	}
	var total int64
	tables := tablesInfo{PerTableStatus: []tableStatus{}}
	for _, res := range results {
		total += res.bytes
		gb := gib(res.bytes)
		cols := res.table.Columns
		if cols == nil {
			cols = []Column{}
		}
		tables.PerTableStatus = append(tables.PerTableStatus, tableStatus{
			Target: res.table.Target,
			Status: "COMPLETE",
			SizeGB: &gb,
			TableStatistics: &tableStatistics{
				ExtractedDataSizeGB: gb,
				PartitioningInfo:    partitioningInfo{NumberOfPartitions: res.partitions, NumberOfCompletedPartitions: res.partitions},
			},
			SchemaMetadata: &schemaMetadata{OriginalTypeMappings: cols},
		})
	}
	for _, s := range w.SkippedTables {
		tables.PerTableStatus = append(tables.PerTableStatus, tableStatus{Target: s.Target, Status: "SKIPPED", WarningMessage: s.Reason})
	}
	for _, g := range w.General {
		tables.PerTableStatus = append(tables.PerTableStatus, tableStatus{Target: g.Detail, WarningMessage: g.Reason})
	}
	exportOnly := t.ExportOnly
	if exportOnly == nil {
		exportOnly = []string{}
	}
	info := exportInfo{
		ExportTaskIdentifier:  t.Identifier,
		SourceArn:             t.SourceArn,
		ExportOnly:            exportOnly,
		SnapshotTime:          cur.SnapshotTime.UTC().Format(isoMillis),
		TaskStartTime:         t.TaskStartTime.UTC().Format(isoMillis),
		TaskEndTime:           end.UTC().Format(isoMillis),
		S3Bucket:              t.S3Bucket,
		S3Prefix:              t.S3Prefix,
		ExportedFilesPath:     r.root,
		IamRoleArn:            t.IamRoleArn,
		KmsKeyID:              t.KmsKeyID,
		Status:                string(export.StatusComplete),
		PercentProgress:       100,
		TotalExportedDataInGB: gib(total),
	}
	n := len(tables.PerTableStatus)
	files := []struct {
		key string
		v   any
	}{
		{fmt.Sprintf("%s/export_tables_info_%s_from_1_to_%d.json", r.root, t.Identifier, n), tables},
		{fmt.Sprintf("%s/export_info_%s.json", r.root, t.Identifier), info},
	}
	for _, f := range files {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f.v); err != nil {
			return &manifestError{err}
		}
		if err := r.put(ctx, f.key, strings.NewReader(strings.TrimSpace(buf.String()))); err != nil {
			return &manifestError{fmt.Errorf("put %s: %w", f.key, err)}
		}
	}
	return nil
}

func gib(n int64) float64 { return float64(n) / export.GiB }

// tablesManifestTail is what follows "export_tables_info_<id>_from_" in the
// name of a tables manifest.
var tablesManifestTail = regexp.MustCompile(`^[0-9]+_to_[0-9]+\.json$`)

// manifestKeys returns the keys of t's manifests present in the store:
// export_info_<id>.json and export_tables_info_<id>_from_<a>_to_<b>.json
// directly under the export root, and not the objects of a database that
// happens to be named like one.
func manifestKeys(ctx context.Context, objects ObjectStore, t *export.Task) ([]string, error) {
	root := exportRoot(t.S3Prefix, t.Identifier) + "/"
	info := root + "export_info_" + t.Identifier + ".json"
	tables := root + "export_tables_info_" + t.Identifier + "_from_"
	var keys []string
	for _, prefix := range []string{info, tables} {
		found, err := objects.List(ctx, t.S3Bucket, prefix)
		if err != nil {
			return nil, err
		}
		for _, k := range found {
			if k == info || strings.HasPrefix(k, tables) && tablesManifestTail.MatchString(k[len(tables):]) {
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// removeManifests deletes the manifests of t, a task that can no longer
// become COMPLETE: the store's compare-and-set has made it FAILED or
// CANCELING (or CANCELED). Manifests say COMPLETE (spec §8.4), and a
// process may have written them and died, or lost the race to a cancel,
// before it recorded COMPLETE. Failures are logged: the task's outcome is
// recorded either way.
//
// Only the outcome recorded in the store allows the removal, never a
// guess about the process writing them: on several nodes sharing a store,
// the node that completes a task and the one that recovers it agree
// through the compare-and-set, and the loser of a COMPLETE transition
// removes what it wrote.
func (e *Engine) removeManifests(ctx context.Context, t *export.Task) {
	keys, err := manifestKeys(ctx, e.p.Objects, t)
	for _, k := range keys {
		if err = e.p.Objects.Delete(ctx, t.S3Bucket, k); err != nil {
			break
		}
	}
	logger := e.logger.With("task_id", t.Identifier)
	switch {
	case err != nil:
		logger.Warn("remove manifests of an unfinished export", "err", err)
	case len(keys) > 0:
		logger.Info("removed manifests of an unfinished export", "manifests", len(keys))
	}
}
