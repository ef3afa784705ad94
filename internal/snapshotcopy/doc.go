// Package snapshotcopy owns the stored copies behind DB snapshots and DB
// cluster snapshots: a copy of a source's tables taken at one consistent
// moment, kept as Parquet files (ZSTD, with the exact Arrow schema) plus a
// manifest.json that is written last and makes the copy complete.
//
// Copier takes copies in the background from a live engine.Source and
// records the snapshot's status in an export.SnapshotStore; Source serves a
// stored copy to the export engine as an engine.Source, so that an export
// of a snapshot never touches the live database. Blobs is the storage seam:
// DirBlobs keeps copies on local disk, S3Blobs in an S3 bucket.
//
// It imports export and engine (the seams it consumes and implements) and
// Arrow/Parquet; it must not import other adapters (pgsource, mysqlsource,
// s3objects, the stores).
package snapshotcopy
