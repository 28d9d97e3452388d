// Package digest makes the capture record tamper-evident: a signed, hash-
// chained manifest ("digest") per endpoint lists the size and SHA-256 of
// every capture object stored since the previous digest, and every deletion
// or rewrite the retention sweeper made. Verify walks the chain and the
// objects and reports, hour by hour, what was modified, removed, added or
// moved, and which digests are missing or badly signed.
//
// The byte-level format is specified in docs/formats/digest.md so that a
// third party can verify without Glassbox.
//
// What it owns:
//   - the digest object format: ParseDigest, Digest.Verify, Fingerprint, the
//     key layout (Key, Prefix, PublicKeyKey);
//   - the Writer, which collects stored, deleted and rewritten objects
//     (journaled to local disk so a crash loses none), writes a digest per
//     endpoint at least every UTC hour, on demand and on shutdown, and
//     continues each endpoint's chain across restarts;
//   - the RecordingBucket, a Bucket decorator that hashes the bytes the
//     store actually receives (below any encryption layer);
//   - Verify and its Report.
//
// It is a domain package (rank 2): it imports the objstore port and the
// standard library only. It does not import capture; the capture uploader
// tells the Writer about stored objects through capture.ObjectHook, which
// *Writer satisfies.
package digest
