package capture

import "context"

// ObjectHook is told about every capture object the uploader has stored,
// right after Bucket.Put returns and before the segment holding its records
// may be deleted. The digest writer (internal/digest) implements it to make
// the record tamper-evident.
//
// The hook is given the endpoint and key only, not a hash: what the store
// holds may differ from what the spool handed to Put (an encrypting bucket
// sits in between), so the implementation obtains the size and SHA-256 of
// the stored bytes itself (a hashing bucket decorator below the encryption,
// or by reading the object back).
//
// An error fails the upload of the segment, which is retried: the object is
// stored again (under the same key) and the hook called again, so the hook
// must accept repeated calls for a key, the last one counting.
type ObjectHook interface {
	ObjectStored(ctx context.Context, endpoint, key string) error
}
