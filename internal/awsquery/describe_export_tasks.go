package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeExportTasks serves DescribeExportTasks (spec §3.2, §5):
// DescribeExportTasksMessage in, ExportTasksMessage out.
func describeExportTasks(h *Handler, ctx context.Context, p params, _ arnContext, x *xmlWriter) error {
	in := service.DescribeExportTasksInput{
		ExportTaskIdentifier: p.str("ExportTaskIdentifier"),
		SourceArn:            p.str("SourceArn"),
		Marker:               p.str("Marker"),
		SourceType:           p.str("SourceType"),
	}
	var err error
	if in.Filters, err = p.filters(); err != nil {
		return err
	}
	if in.MaxRecords, err = p.int("MaxRecords"); err != nil {
		return err
	}
	out, err := h.Service.DescribeExportTasks(ctx, in)
	if err != nil {
		return err
	}
	// An empty wrapper makes botocore (and so the AWS CLI) return [] rather
	// than nothing (spec §1.3).
	if len(out.ExportTasks) == 0 {
		x.empty("ExportTasks")
	} else {
		x.open("ExportTasks")
		for _, t := range out.ExportTasks {
			x.open("ExportTask")
			x.exportTask(t)
			x.close("ExportTask")
		}
		x.close("ExportTasks")
	}
	x.optStr("Marker", out.Marker)
	return nil
}
