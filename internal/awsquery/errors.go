package awsquery

import (
	"errors"
	"net/http"

	"github.com/rdsexport/rdsexport/internal/export"
)

// internalMessage is all a caller learns about an internal failure; the
// details go to the log only.
const internalMessage = "An internal error has occurred. Please try your request again later."

// StatusCode returns the HTTP status the server sends with an error code:
// the model's httpStatusCode for modeled faults and the RDS "Common Errors"
// status for the others (spec §1.5). Codes not listed are client errors (400).
func StatusCode(code string) int {
	switch code {
	case export.CodeDBClusterNotFound,
		export.CodeDBClusterSnapshotNotFound,
		export.CodeDBInstanceNotFound,
		export.CodeDBSnapshotNotFound,
		export.CodeExportTaskNotFound,
		export.CodeIamRoleNotFound,
		// The AWS common-errors page lists MalformedQueryString as 404
		// (spec §1.5); it is kept for fidelity.
		export.CodeMalformedQueryString:
		return http.StatusNotFound
	case export.CodeMissingAuthenticationToken,
		export.CodeInvalidClientTokenID,
		export.CodeSignatureDoesNotMatch,
		// Package sigv4 reports clock skew and expired presigned URLs as
		// RequestExpired; it is an authentication failure like the others.
		export.CodeRequestExpired:
		return http.StatusForbidden
	case export.CodeInternalFailure:
		return http.StatusInternalServerError
	case export.CodeServiceUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// errorType is the <Type> of an ErrorResponse: Sender for 4xx, Receiver for
// 5xx (spec §1.4).
func errorType(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// publicError returns the *export.Error in err's chain and true, or an
// InternalFailure with a generic message and false when there is none.
func publicError(err error) (*export.Error, bool) {
	var e *export.Error
	if errors.As(err, &e) {
		return e, true
	}
	return &export.Error{Code: export.CodeInternalFailure, Message: internalMessage}, false
}

// WriteError writes err as an AWS Query ErrorResponse with the request ID in
// the body and in the x-amzn-RequestId header. It is meant for requests
// answered before they reach a Handler, such as signature failures. An err
// that is not an *export.Error is answered as a 500 InternalFailure with a
// generic message; WriteError does not log, so the caller must log such
// errors itself.
func WriteError(w http.ResponseWriter, requestID string, err error) {
	e, _ := publicError(err)
	writeErrorResponse(w, requestID, e)
}

func writeErrorResponse(w http.ResponseWriter, requestID string, e *export.Error) {
	status := StatusCode(e.Code)
	var x xmlWriter
	x.header()
	x.openNS("ErrorResponse")
	x.open("Error")
	x.str("Type", errorType(status))
	x.str("Code", e.Code)
	x.str("Message", e.Message)
	x.close("Error")
	x.str("RequestId", requestID)
	x.close("ErrorResponse")
	writeXML(w, requestID, status, x.bytes())
}
