package export

import (
	"errors"
	"fmt"
)

// Error codes, spelled exactly as they travel in <Code> (spec §1.5). They are
// irregular on purpose: some keep the Fault suffix, some do not.
const (
	CodeDBClusterNotFound              = "DBClusterNotFoundFault"
	CodeDBClusterSnapshotAlreadyExists = "DBClusterSnapshotAlreadyExistsFault"
	CodeDBClusterSnapshotNotFound      = "DBClusterSnapshotNotFoundFault"
	CodeDBInstanceNotFound             = "DBInstanceNotFound"
	CodeDBSnapshotAlreadyExists        = "DBSnapshotAlreadyExists"
	CodeDBSnapshotNotFound             = "DBSnapshotNotFound"
	CodeExportTaskAlreadyExists        = "ExportTaskAlreadyExists"
	CodeExportTaskNotFound             = "ExportTaskNotFound"
	CodeIamRoleMissingPermissions      = "IamRoleMissingPermissions"
	CodeIamRoleNotFound                = "IamRoleNotFound"
	CodeInvalidDBClusterSnapshotState  = "InvalidDBClusterSnapshotStateFault"
	CodeInvalidDBClusterState          = "InvalidDBClusterStateFault"
	CodeInvalidDBInstanceState         = "InvalidDBInstanceState"
	CodeInvalidDBSnapshotState         = "InvalidDBSnapshotState"
	CodeInvalidExportOnly              = "InvalidExportOnly"
	CodeInvalidExportSourceState       = "InvalidExportSourceState"
	CodeInvalidExportTaskState         = "InvalidExportTaskStateFault"
	CodeInvalidS3Bucket                = "InvalidS3BucketFault"
	CodeKMSKeyNotAccessible            = "KMSKeyNotAccessibleFault"
	CodeSnapshotQuotaExceeded          = "SnapshotQuotaExceeded"

	CodeMissingParameter            = "MissingParameter"
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
	CodeMissingAction               = "MissingAction"
	CodeInvalidAction               = "InvalidAction"
	CodeMalformedQueryString        = "MalformedQueryString"
	CodeIncompleteSignature         = "IncompleteSignature"
	CodeMissingAuthenticationToken  = "MissingAuthenticationToken"
	CodeInvalidClientTokenID        = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch       = "SignatureDoesNotMatch"
	CodeRequestExpired              = "RequestExpired"
	CodeThrottling                  = "Throttling"
	CodeInternalFailure             = "InternalFailure"
	CodeServiceUnavailable          = "ServiceUnavailable"
)

// Error is a failure the caller may see: an RDS error code and a message.
// Anything that is not an *Error is internal and is shown to callers only as
// InternalFailure.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, or
// InternalFailure when there is none, or "" for a nil err.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}

// ErrStatusConflict is wrapped by Store.Transition and by the
// SnapshotStore's compare-and-set methods when the record is not in one of
// the expected statuses.
var ErrStatusConflict = errors.New("status changed concurrently")

// ErrTaskCanceled is the cancel cause of a task's context when a user
// cancelled it; any other cause means failure or shutdown.
var ErrTaskCanceled = errors.New("export task canceled")

// ErrShutdown is the cancel cause of a task's context when the server stops.
var ErrShutdown = errors.New("server shutting down")

// ErrHandedOff is the cancel cause of a task's context when its run is
// given back to the cluster (a node leaving, or a node that lost its lease):
// the runner records nothing, and another run of the task takes over.
var ErrHandedOff = errors.New("export handed to another node")

// TaskNotFound returns the ExportTaskNotFound error for id (spec §3.3).
func TaskNotFound(id string) *Error {
	return Errorf(CodeExportTaskNotFound, "The export task with the ID %s is not found.", id)
}

// TaskAlreadyExists returns the ExportTaskAlreadyExists error for id (spec §3.1 #5).
func TaskAlreadyExists(id string) *Error {
	return Errorf(CodeExportTaskAlreadyExists, "The export task with the ID %s already exists.", id)
}
