package awsquery

import "context"

// cancelExportTask serves CancelExportTask (spec §3.3):
// CancelExportTaskMessage in, ExportTask out.
func cancelExportTask(h *Handler, ctx context.Context, p params, _ arnContext, x *xmlWriter) error {
	t, err := h.Service.CancelExportTask(ctx, p["ExportTaskIdentifier"])
	if err != nil {
		return err
	}
	x.exportTask(t)
	return nil
}
