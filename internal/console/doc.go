// Package console is the web console served at /console/ on the API's
// listener: a person signs in with an access key ID and secret of the
// configured credentials and sees that key's account only — its export
// tasks with live progress (overall, and per table from the engine's
// Observer), its snapshots, and the objects of its buckets in the embedded
// S3 — and can start and cancel exports and create and delete snapshots.
//
// Every read and action goes through the same Service as the RDS API, with
// the signed-in account as the caller, so validation, limits, ownership
// and errors are the API's. Pages are html/template with a little CSS and
// JavaScript embedded in the binary; they read without JavaScript, which
// only refreshes the live parts of a page every second.
//
// It imports export, service (for the operations' input and output types)
// and engine (for the Observer's types), never an adapter: main hands it
// the credentials, the service and the object browser.
package console
