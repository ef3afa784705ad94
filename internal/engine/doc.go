// Package engine runs export tasks: it claims STARTING tasks from the
// export.Store within the concurrency limit, opens one consistent Snapshot
// of the source, streams every table through ReadTable into the
// ObjectStore, reports progress, and ends each task COMPLETE, FAILED or
// CANCELED according to the cause of its context.
//
// ReadTable is the one table pipeline (batches × ranges → Arrow →
// parquetfile.Series → Put); snapshot copies call it too.
//
// It reaches databases and S3 only through Source and ObjectStore; it
// imports no adapter except the pure encoder parquetfile.
package engine
