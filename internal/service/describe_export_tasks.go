package service

import (
	"context"
	"fmt"

	"github.com/rdsexport/rdsexport/internal/export"
)

// Filter names of DescribeExportTasks (spec §5).
const (
	FilterExportTaskIdentifier = "export-task-identifier"
	FilterS3Bucket             = "s3-bucket"
	FilterSourceArn            = "source-arn"
	FilterStatus               = "status"
)

// DescribeExportTasks returns the caller's tasks that match every criterion
// of in, in acceptance order, one page of at most MaxRecords (default 100).
// Marker is set on the output only when more tasks follow. A page is cut
// before MaxRecords tasks when the next task would take it past
// Params.MaxPageBytes; it always holds at least one task, and its Marker
// leads to the task that did not fit.
//
// An identifier or ARN that matches nothing gives an empty list, not
// ExportTaskNotFound (spec §3.2). An empty ExportTaskIdentifier or
// SourceArn counts as absent. Status filter values are the lowercase
// statuses; any other value matches nothing (spec §5).
//
// Errors (*export.Error, InvalidParameterValue): MaxRecords outside
// 20..100, an undecodable Marker, a SourceType other than SNAPSHOT or
// CLUSTER, an unknown filter name or a filter without values. Store errors
// are returned wrapped; ErrNoCaller when ctx carries no caller.
func (s *Service) DescribeExportTasks(ctx context.Context, in DescribeExportTasksInput) (*DescribeExportTasksOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageSize(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	after, err := decodeSeqMarker(in.Marker)
	if err != nil {
		return nil, err
	}
	sourceType, err := parseSourceType(in.SourceType)
	if err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters, FilterExportTaskIdentifier, FilterS3Bucket, FilterSourceArn, FilterStatus); err != nil {
		return nil, err
	}

	var ids, arns, buckets, statuses valueSet
	if in.ExportTaskIdentifier != nil && *in.ExportTaskIdentifier != "" {
		ids.constrain([]string{*in.ExportTaskIdentifier})
	}
	if in.SourceArn != nil && *in.SourceArn != "" {
		arns.constrain([]string{*in.SourceArn})
	}
	for _, f := range in.Filters {
		switch f.Name {
		case FilterExportTaskIdentifier:
			ids.constrain(f.Values)
		case FilterS3Bucket:
			buckets.constrain(f.Values)
		case FilterSourceArn:
			arns.constrain(f.Values)
		case FilterStatus:
			var known []string
			for _, v := range f.Values {
				for _, st := range export.Statuses() {
					if st.FilterValue() == v {
						known = append(known, string(st))
					}
				}
			}
			statuses.constrain(known)
		}
	}
	out := &DescribeExportTasksOutput{ExportTasks: []*export.Task{}}
	if ids.impossible() || arns.impossible() || buckets.impossible() || statuses.impossible() {
		return out, nil
	}

	f := export.TaskFilter{
		AccountID:   caller.AccountID,
		Identifiers: ids.list(),
		SourceArns:  arns.list(),
		Buckets:     buckets.list(),
		SourceType:  sourceType,
		AfterSeq:    after,
		Limit:       limit + 1, // one more tells whether a next page exists
	}
	for _, st := range statuses.list() {
		f.Statuses = append(f.Statuses, export.Status(st))
	}
	tasks, err := s.store.ListTasks(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list export tasks: %w", err)
	}
	size := 0
	for _, t := range tasks {
		n := taskWireBytes(t)
		if len(out.ExportTasks) > 0 && (len(out.ExportTasks) == limit || size+n > s.maxPageBytes) {
			// The marker is the last task returned: the next page starts
			// right after it, whatever cut this one.
			out.Marker = encodeSeqMarker(out.ExportTasks[len(out.ExportTasks)-1].Seq)
			break
		}
		out.ExportTasks = append(out.ExportTasks, t)
		size += n
	}
	return out, nil
}

// taskWireBytes estimates the size of a task in a response: its text with
// XML escaping, plus the element names and fixed members.
func taskWireBytes(t *export.Task) int {
	n := 700 + wireLen(t.Identifier) + wireLen(t.SourceArn) + wireLen(t.S3Bucket) + wireLen(t.S3Prefix) +
		wireLen(t.IamRoleArn) + wireLen(t.KmsKeyID) + wireLen(t.FailureCause) + wireLen(t.WarningMessage)
	for _, e := range t.ExportOnly {
		n += 30 + wireLen(e)
	}
	return n
}

// wireLen is the length of s once escaped as XML text: '&' becomes
// "&amp;", '<' and '>' "&lt;" and "&gt;", a carriage return "&#xD;".
func wireLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '&', '\r':
			n += 4
		case '<', '>':
			n += 3
		}
	}
	return n
}
