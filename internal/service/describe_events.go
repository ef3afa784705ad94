package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// ErrNoEventStore is returned by DescribeEvents when the Service has no
// event store.
var ErrNoEventStore = errors.New("service: no event store")

// DescribeEventsInput is DescribeEventsMessage. Filters is not supported
// by RDS and is ignored, as RDS ignores it.
type DescribeEventsInput struct {
	SourceIdentifier *string
	SourceType       *string
	StartTime        *time.Time
	EndTime          *time.Time
	Duration         *int
	EventCategories  []string
	MaxRecords       *int
	Marker           *string
}

// DescribeEventsOutput is EventsMessage.
type DescribeEventsOutput struct {
	Events []*export.Event
	// Marker is "" on the last page.
	Marker string
}

// defaultEventMinutes is the window of DescribeEvents without StartTime
// or Duration: RDS returns the events of the past hour.
const defaultEventMinutes = 60

// maxEventCategories bounds EventCategories; RDS has about a dozen.
const maxEventCategories = 20

// DescribeEvents returns the caller's events that match in, oldest first,
// one page of at most MaxRecords (default 100). The window is StartTime to
// EndTime; without StartTime it is the Duration minutes (default 60)
// before EndTime (default now), and with StartTime but no EndTime it is
// Duration minutes from StartTime, or up to now. Events older than 14 days
// are not returned. EventCategories selects events with one of them.
//
// Errors (*export.Error): InvalidParameterValue for a SourceType that is
// not one of the API's, a negative Duration, an EndTime before StartTime,
// MaxRecords outside 20..100, an undecodable Marker or more than 20
// categories; InvalidParameterCombination for a SourceIdentifier without
// SourceType. ErrNoEventStore, ErrNoCaller and store errors, wrapped, are
// internal.
func (s *Service) DescribeEvents(ctx context.Context, in DescribeEventsInput) (*DescribeEventsOutput, error) {
	caller, err := callerFrom(ctx)
	if err != nil {
		return nil, err
	}
	if s.events == nil {
		return nil, ErrNoEventStore
	}
	f := export.EventFilter{AccountID: caller.AccountID}
	if in.SourceType != nil && *in.SourceType != "" {
		if !slices.Contains(export.EventSourceTypes(), *in.SourceType) {
			return nil, invalidParameter("Invalid value %s for SourceType. Valid values: %s", *in.SourceType, strings.Join(export.EventSourceTypes(), ", "))
		}
		f.SourceType = *in.SourceType
	}
	if in.SourceIdentifier != nil && *in.SourceIdentifier != "" {
		if f.SourceType == "" {
			return nil, export.Errorf(export.CodeInvalidParameterCombination, "Cannot specify SourceIdentifier without SourceType.")
		}
		f.SourceIdentifier = *in.SourceIdentifier
	}
	if len(in.EventCategories) > maxEventCategories {
		return nil, invalidParameter("EventCategories may name at most %d categories", maxEventCategories)
	}
	for _, c := range in.EventCategories {
		if c != "" {
			f.Categories = append(f.Categories, strings.ToLower(c))
		}
	}
	if f.Start, f.End, err = eventWindow(in, s.now()); err != nil {
		return nil, err
	}
	limit, err := pageSize(in.MaxRecords)
	if err != nil {
		return nil, err
	}
	if f.AfterSeq, err = decodeSeqMarker(in.Marker); err != nil {
		return nil, err
	}
	if f.Start.After(f.End) {
		return &DescribeEventsOutput{}, nil
	}
	f.Limit = limit + 1
	events, err := s.events.ListEvents(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("describe events: %w", err)
	}
	out := &DescribeEventsOutput{Events: events}
	if len(events) > limit {
		out.Events = events[:limit]
		out.Marker = encodeSeqMarker(out.Events[limit-1].Seq)
	}
	return out, nil
}

// eventWindow is the interval DescribeEvents covers, cut to the 14 days
// RDS keeps events for.
func eventWindow(in DescribeEventsInput, now time.Time) (start, end time.Time, err error) {
	minutes := defaultEventMinutes
	if in.Duration != nil {
		if *in.Duration < 0 {
			return start, end, invalidParameter("Invalid value %d for Duration. Must be a non-negative number of minutes", *in.Duration)
		}
		minutes = *in.Duration
	}
	window := time.Duration(minutes) * time.Minute
	switch {
	case in.StartTime != nil:
		start = *in.StartTime
		switch {
		case in.EndTime != nil:
			end = *in.EndTime
		case in.Duration != nil:
			end = start.Add(window)
		default:
			end = now
		}
		if in.EndTime != nil && end.Before(start) {
			return start, end, invalidParameter("The parameter EndTime must be later than StartTime")
		}
	default:
		end = now
		if in.EndTime != nil {
			end = *in.EndTime
		}
		start = end.Add(-window)
	}
	if oldest := now.Add(-export.EventRetention); start.Before(oldest) {
		start = oldest
	}
	return start, end, nil
}
