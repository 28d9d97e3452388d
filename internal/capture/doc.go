// Package capture owns Glassbox's record of an inference exchange: the
// SageMaker Data Capture line (Record), how a payload's encoding is chosen,
// per-request sampling, the object key layout, the asynchronous pipeline that
// turns exchanges into capture objects in a blob store, and the reader that
// scans them back.
//
// It is a domain package: it imports the root vocabulary and the objstore
// port, never net/http, a concrete blob store, or the config schema.
package capture
