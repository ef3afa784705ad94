package awsquery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// Version is the only API version the handler serves.
const Version = "2014-10-31"

// DefaultMaxBodyBytes bounds a request body when Handler.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// DefaultAccountID is the account used in ARNs when neither the request
// context nor the Handler names one; the region is export.DefaultRegion.
const DefaultAccountID = "000000000000"

// Service is what the handler calls; *service.Service implements it. Errors
// that are *export.Error reach the caller with their code and message; any
// other error is logged and answered as InternalFailure.
type Service interface {
	StartExportTask(ctx context.Context, in service.StartExportTaskInput) (*export.Task, error)
	DescribeExportTasks(ctx context.Context, in service.DescribeExportTasksInput) (*service.DescribeExportTasksOutput, error)
	CancelExportTask(ctx context.Context, identifier string) (*export.Task, error)
	DescribeDBClusters(ctx context.Context, in service.DescribeDBClustersInput) (*service.DescribeDBClustersOutput, error)
	DescribeDBInstances(ctx context.Context, in service.DescribeDBInstancesInput) (*service.DescribeDBInstancesOutput, error)
	CreateDBSnapshot(ctx context.Context, in service.CreateDBSnapshotInput) (*export.Snapshot, error)
	DescribeDBSnapshots(ctx context.Context, in service.DescribeDBSnapshotsInput) (*service.DescribeDBSnapshotsOutput, error)
	DeleteDBSnapshot(ctx context.Context, identifier string) (*export.Snapshot, error)
	CreateDBClusterSnapshot(ctx context.Context, in service.CreateDBClusterSnapshotInput) (*export.Snapshot, error)
	DescribeDBClusterSnapshots(ctx context.Context, in service.DescribeDBClusterSnapshotsInput) (*service.DescribeDBClusterSnapshotsOutput, error)
	DeleteDBClusterSnapshot(ctx context.Context, identifier string) (*export.Snapshot, error)
	DescribeEvents(ctx context.Context, in service.DescribeEventsInput) (*service.DescribeEventsOutput, error)
}

// Handler serves the RDS Query API over HTTP. Its fields must be set before
// the first request and not changed afterwards. Signature verification is
// not its job: wrap it with a handler that verifies the request and stores
// the export.Caller in the request context.
type Handler struct {
	// Service runs the operations. Required.
	Service Service
	// Logger receives internal failures; nil discards them.
	Logger *slog.Logger
	// NewRequestID returns the ID of each request; nil means a UUID v4.
	NewRequestID func() string
	// MaxBodyBytes bounds the request body; 0 means DefaultMaxBodyBytes.
	// A larger body is answered with InvalidParameterValue.
	MaxBodyBytes int64
	// Region and AccountID are used in ARNs when the request context has no
	// export.Caller; empty means export.DefaultRegion and DefaultAccountID.
	Region    string
	AccountID string
	// Regions are the regions the server serves. A request whose verified
	// caller names another region is refused with SignatureDoesNotMatch, as
	// an AWS endpoint refuses a credential scoped to another region: every
	// ARN the request could mint or name would be of a region the server
	// does not serve. Empty means any region.
	Regions []string
	// Observe, when set, is called once per request after the answer is
	// written: the action ("unknown" for a missing or unserved one, so
	// that callers cannot mint values), "OK" or the error code, and the
	// time taken.
	Observe func(action, code string, elapsed time.Duration)
}

// operation decodes its input from p, calls the service and writes the
// members of its Result element into x.
type operation func(h *Handler, ctx context.Context, p params, a arnContext, x *xmlWriter) error

// operations maps an Action to its implementation; one file per Action.
var operations = map[string]operation{
	"StartExportTask":     startExportTask,
	"DescribeExportTasks": describeExportTasks,
	"CancelExportTask":    cancelExportTask,
	"DescribeDBClusters":  describeDBClusters,
	"DescribeDBInstances": describeDBInstances,

	"CreateDBSnapshot":           createDBSnapshot,
	"DescribeDBSnapshots":        describeDBSnapshots,
	"DeleteDBSnapshot":           deleteDBSnapshot,
	"CreateDBClusterSnapshot":    createDBClusterSnapshot,
	"DescribeDBClusterSnapshots": describeDBClusterSnapshots,
	"DeleteDBClusterSnapshot":    deleteDBClusterSnapshot,

	"DescribeEvents": describeEvents,
}

// ServeHTTP answers one Query API request. Every response carries the
// request ID in the x-amzn-RequestId header and in the body.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := h.requestID()
	action := ""
	code := "OK"
	if h.Observe != nil {
		start := time.Now()
		defer func() {
			label := "unknown"
			if _, ok := operations[action]; ok {
				label = action
			}
			h.Observe(label, code, time.Since(start))
		}()
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			code = h.fail(w, requestID, action, fmt.Errorf("panic: %v", v))
		}
	}()

	if err := h.checkRegion(r.Context()); err != nil {
		code = h.fail(w, requestID, action, err)
		return
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	p, err := readParams(w, r, limit)
	if err != nil {
		code = h.fail(w, requestID, action, err)
		return
	}
	action = p["Action"]
	op, err := dispatch(p)
	if err != nil {
		code = h.fail(w, requestID, action, err)
		return
	}
	// After dispatch, so that a body of garbage is still MissingAction.
	if err := checkUTF8(p); err != nil {
		code = h.fail(w, requestID, action, err)
		return
	}

	// The members are written first so that a failure leaves nothing to
	// undo; they sit two levels deep in the final document.
	result := xmlWriter{depth: 2}
	if err := op(h, r.Context(), p, h.arnContext(r.Context()), &result); err != nil {
		code = h.fail(w, requestID, action, err)
		return
	}
	var x xmlWriter
	x.header()
	x.openNS(action + "Response")
	if result.buf.Len() == 0 {
		// The Result element must be present even when empty (spec §1.3
		// rule 2).
		x.empty(action + "Result")
	} else {
		x.open(action + "Result")
		x.buf.Write(result.bytes())
		x.close(action + "Result")
	}
	x.open("ResponseMetadata")
	x.str("RequestId", requestID)
	x.close("ResponseMetadata")
	x.close(action + "Response")
	writeXML(w, requestID, http.StatusOK, x.bytes())
}

// checkRegion refuses a caller of a region the handler does not serve.
func (h *Handler) checkRegion(ctx context.Context) error {
	c, ok := export.CallerFrom(ctx)
	if !ok || c.Region == "" || len(h.Regions) == 0 || slices.Contains(h.Regions, c.Region) {
		return nil
	}
	return export.Errorf(export.CodeSignatureDoesNotMatch,
		"Credential should be scoped to a valid region, not '%s'. ", c.Region)
}

// dispatch checks Action and Version (spec §1.2).
//
// Errors: MissingAction, InvalidAction, InvalidParameterValue for a Version
// other than 2014-10-31.
func dispatch(p params) (operation, error) {
	action, ok := p["Action"]
	if !ok || action == "" {
		return nil, export.Errorf(export.CodeMissingAction, "The request must contain the parameter Action.")
	}
	op, ok := operations[action]
	if !ok {
		return nil, export.Errorf(export.CodeInvalidAction, "Could not find operation %s for version %s.", action, Version)
	}
	if v, ok := p["Version"]; ok && v != Version {
		return nil, export.Errorf(export.CodeInvalidParameterValue,
			"Invalid value '%s' for parameter Version: the only supported version is %s.", v, Version)
	}
	return op, nil
}

// fail answers err and returns its code. Internal errors are logged here,
// with the request ID and action, and hidden from the caller.
func (h *Handler) fail(w http.ResponseWriter, requestID, action string, err error) string {
	e, public := publicError(err)
	if !public {
		h.logger().Error("request failed", "request_id", requestID, "action", action, "err", err)
	}
	writeErrorResponse(w, requestID, e)
	return e.Code
}

func (h *Handler) requestID() string {
	if h.NewRequestID != nil {
		return h.NewRequestID()
	}
	return uuid.NewString()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// arnContext takes the region and account from the verified caller, falling
// back to the handler's defaults.
func (h *Handler) arnContext(ctx context.Context) arnContext {
	a := arnContext{Region: h.Region, AccountID: h.AccountID}
	if c, ok := export.CallerFrom(ctx); ok {
		if c.Region != "" {
			a.Region = c.Region
		}
		if c.AccountID != "" {
			a.AccountID = c.AccountID
		}
	}
	if a.Region == "" {
		a.Region = export.DefaultRegion
	}
	if a.AccountID == "" {
		a.AccountID = DefaultAccountID
	}
	return a
}
