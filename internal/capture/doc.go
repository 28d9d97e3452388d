// Package capture owns Glassbox's record of an inference exchange: the
// SageMaker Data Capture line (Record), how a payload's encoding is chosen,
// per-request sampling, the object key layout, the asynchronous pipeline that
// turns exchanges into capture objects in a blob store, the reader that
// scans them back, and the retention sweeper that deletes them or strips
// their payloads when they expire (retention.go; it reaches the digest
// chain and the audit log through interfaces it declares, never by
// importing internal/digest or internal/audit).
//
// It is a domain package: it imports the root vocabulary and the objstore
// port, never net/http, a concrete blob store, or the config schema.
package capture
