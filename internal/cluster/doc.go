// Package cluster runs export tasks on several rdsexport processes (nodes)
// that share one PostgreSQL database, with River as the job queue.
//
// An export task is a River job. The node whose worker gets the job claims
// the task: in one transaction, under an advisory lock per account, it checks
// the account's cluster-wide limit and moves the task STARTING → IN_PROGRESS
// (the task store's compare-and-set), and records a run (task, attempt,
// owning node instance). Every write the run makes afterwards is fenced:
// store writes check the run row under a share lock, object writes check the
// node's lease. A node holds its lease by heartbeat; when the lease lapses
// (the node died, was paused, or lost the database) every node's reaper sees
// it, releases the run and queues a new job, and the next claim deletes the
// dead attempt's objects and reads the source again at a new point in time.
// A cancel reaches the running node through River's job cancel, which River
// delivers with LISTEN/NOTIFY. A node that leaves (SIGTERM) hands its runs
// back the same way without waiting for its lease to lapse.
//
// A table that the export reads in ranges, from a snapshot other nodes can
// join (engine.Sharer: PostgreSQL's exported snapshot, a stored copy), has
// each range queued as a job of its own, with a row in rdsexport_ranges
// that carries the share, the reader's progress and its outcome. The node
// running the export follows those rows; any node's range workers read
// them. A range reader's object writes are fenced by its lease, by the
// range still being its read, and by the export's run still being the one
// that queued the range. A range whose reader's lease lapses is queued
// again (the next read removes what the earlier one stored); a takeover of
// a snapshot export keeps the ranges that earlier runs stored.
//
// Snapshot copies run on the node that took the call (Node.Snapshotter
// records them as its own); when that node's lease lapses, the reaper fails
// them and removes their partial data rather than leave them creating.
//
// River's own rescue of stuck jobs (after an hour) is harmless here: a
// rescued job finds its run taken and does nothing.
package cluster
