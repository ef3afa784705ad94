package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
