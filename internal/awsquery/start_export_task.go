package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// startExportTask serves StartExportTask (spec §3.1): StartExportTaskMessage
// in, ExportTask out.
func startExportTask(h *Handler, ctx context.Context, p params, _ arnContext, x *xmlWriter) error {
	in := service.StartExportTaskInput{
		ExportTaskIdentifier: p["ExportTaskIdentifier"],
		SourceArn:            p["SourceArn"],
		S3BucketName:         p["S3BucketName"],
		IamRoleArn:           p["IamRoleArn"],
		KmsKeyId:             p["KmsKeyId"],
		S3Prefix:             p.str("S3Prefix"),
	}
	var err error
	if in.ExportOnly, err = p.list("ExportOnly", "member"); err != nil {
		return err
	}
	t, err := h.Service.StartExportTask(ctx, in)
	if err != nil {
		return err
	}
	x.exportTask(t)
	return nil
}
