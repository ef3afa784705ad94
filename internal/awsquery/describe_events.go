package awsquery

import (
	"context"

	"github.com/rdsexport/rdsexport/internal/service"
)

// describeEvents serves DescribeEvents: DescribeEventsMessage in,
// EventsMessage out. Filters is not supported by RDS and is not read.
func describeEvents(h *Handler, ctx context.Context, p params, _ arnContext, x *xmlWriter) error {
	in := service.DescribeEventsInput{
		SourceIdentifier: p.str("SourceIdentifier"),
		SourceType:       p.str("SourceType"),
		Marker:           p.str("Marker"),
	}
	var err error
	if in.StartTime, err = p.time("StartTime"); err != nil {
		return err
	}
	if in.EndTime, err = p.time("EndTime"); err != nil {
		return err
	}
	if in.Duration, err = p.int("Duration"); err != nil {
		return err
	}
	if in.MaxRecords, err = p.int("MaxRecords"); err != nil {
		return err
	}
	if in.EventCategories, err = p.list("EventCategories", "EventCategory"); err != nil {
		return err
	}
	out, err := h.Service.DescribeEvents(ctx, in)
	if err != nil {
		return err
	}
	x.optStr("Marker", out.Marker)
	if len(out.Events) == 0 {
		x.empty("Events")
		return nil
	}
	x.open("Events")
	for _, e := range out.Events {
		x.open("Event")
		x.str("SourceIdentifier", e.SourceIdentifier)
		x.str("SourceType", e.SourceType)
		x.str("Message", e.Message)
		x.strList("EventCategories", "EventCategory", e.Categories)
		x.time("Date", e.Date)
		x.str("SourceArn", e.SourceArn)
		x.close("Event")
	}
	x.close("Events")
	return nil
}
