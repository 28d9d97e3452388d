package digest

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Kind classifies a finding of Verify.
type Kind string

// Findings that fail verification.
const (
	// ObjectModified: the stored size or SHA-256 differs from the digest.
	ObjectModified Kind = "object_modified"
	// ObjectMissing: listed in a digest, absent, and not recorded as deleted.
	ObjectMissing Kind = "object_missing"
	// ObjectAdded: present in the endpoint's folder but never listed (or
	// present again after its deletion was recorded).
	ObjectAdded Kind = "object_added"
	// ObjectReordered: the bytes of a listed object are stored under
	// another key (moved or renamed).
	ObjectReordered Kind = "object_reordered"
	// DigestMissing: a digest linked from its successor is absent (or its
	// hash differs), an hour has no digest although the server ran, the
	// chain restarts without a link, or the newest digest this host wrote
	// is gone.
	DigestMissing Kind = "digest_missing"
	// DigestBadSignature: a digest is malformed, its signature does not
	// verify, or it is signed by another key than the pinned one.
	DigestBadSignature Kind = "digest_bad_signature"
	// DigestReordered: a digest is stored under another key than the one it
	// was signed for, or its sequence or time breaks the chain's order.
	DigestReordered Kind = "digest_reordered"
)

// Findings that are notes: they do not fail verification.
const (
	// ObjectDeleted: listed, absent, and recorded as deleted by retention.
	ObjectDeleted Kind = "object_deleted"
	// ObjectRewritten: recorded as rewritten by retention; the new bytes match.
	ObjectRewritten Kind = "object_rewritten"
	// ObjectPending: stored after the newest digest of a running chain; the
	// next digest will list it.
	ObjectPending Kind = "object_pending"
)

// Failure reports whether findings of this kind fail verification.
func (k Kind) Failure() bool {
	switch k {
	case ObjectDeleted, ObjectRewritten, ObjectPending:
		return false
	}
	return true
}

// Finding is one thing Verify found.
type Finding struct {
	Kind   Kind   `json:"kind"`
	Key    string `json:"key,omitempty"` // the object or digest concerned
	Detail string `json:"detail"`
}

// HourReport is what Verify found for one UTC hour. Objects are counted
// by the hour folder of their key, digests by the hour of their end time.
type HourReport struct {
	Hour     time.Time `json:"hour"`
	Digests  int       `json:"digests"`
	Objects  int       `json:"objects"` // capture objects present in the hour
	Findings []Finding `json:"findings"`
}

// Report is the result of Verify.
type Report struct {
	Endpoint    string    `json:"endpoint"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Fingerprint string    `json:"public_key_fingerprint"`
	Digests     int       `json:"digests"` // digest objects read
	Objects     int       `json:"objects"` // capture objects checked
	// Head is the newest digest with a valid signature, nil when none.
	Head  *Head        `json:"head"`
	Hours []HourReport `json:"hours"`
}

// Failed reports whether any finding fails verification.
func (r *Report) Failed() bool {
	for _, h := range r.Hours {
		for _, f := range h.Findings {
			if f.Kind.Failure() {
				return true
			}
		}
	}
	return false
}

// Count returns how many findings of kind the report holds.
func (r *Report) Count(kind Kind) int {
	n := 0
	for _, h := range r.Hours {
		for _, f := range h.Findings {
			if f.Kind == kind {
				n++
			}
		}
	}
	return n
}

// VerifyOptions say what Verify checks.
type VerifyOptions struct {
	// Bucket is the store itself (not a decrypting decorator): hashes are
	// over the stored bytes.
	Bucket   objstore.Bucket
	Endpoint string
	// PublicKey is the pinned key every digest must verify with.
	PublicKey ed25519.PublicKey
	// Start and End bound the hours checked; zero Start means the hour of
	// the chain's first digest, zero End means now.
	Start, End time.Time
	// Anchor, when set, is the newest digest the writer recorded locally
	// (LoadHeads); a chain that no longer reaches it was truncated.
	Anchor *Head
	// Grace is how late an hourly digest may be before its hour counts as
	// missing. Default 10 minutes.
	Grace time.Duration
	// Now returns the wall-clock time; nil means time.Now.
	Now func() time.Time
}

// storedDigest is a digest object as found in the bucket.
type storedDigest struct {
	stored string // where it was found
	sum    string // hex SHA-256 of its bytes
	d      *Digest
}

// expected is what the digests say about one object key.
type expected struct {
	size    int64
	sha     string
	deleted *Deleted
	rewrite *Rewritten
}

// Verify checks an endpoint's digest chain and capture objects. It returns
// an error only when the check itself could not run (the store failed);
// everything wrong with the data is a finding in the report.
func Verify(ctx context.Context, o VerifyOptions) (*Report, error) {
	if o.Bucket == nil || o.Endpoint == "" || len(o.PublicKey) != ed25519.PublicKeySize {
		return nil, errors.New("verify: needs a bucket, an endpoint and a public key")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Minute
	}
	now := o.Now().UTC()
	v := &verifier{o: o, hours: map[time.Time]*HourReport{}}
	r := &Report{Endpoint: o.Endpoint, Fingerprint: Fingerprint(o.PublicKey)}

	// 1. Read every digest of the endpoint.
	var infos []objstore.ObjectInfo
	if err := o.Bucket.List(ctx, EndpointPrefix(o.Endpoint), func(oi objstore.ObjectInfo) error {
		infos = append(infos, oi)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("verify: list digests: %w", err)
	}
	byKey := map[string]*storedDigest{} // by the key each was signed for
	invalid := map[string]bool{}        // stored keys of digests that failed
	for _, oi := range infos {
		r.Digests++
		data, err := readAll(ctx, o.Bucket, oi.Key, maxDigestBytes)
		if err != nil {
			return nil, fmt.Errorf("verify: read digest: %w", err)
		}
		hour := digestHour(oi)
		d, err := ParseDigest(data)
		if err == nil {
			err = d.Verify(o.PublicKey)
		}
		if err != nil {
			invalid[oi.Key] = true
			v.add(hour, Finding{DigestBadSignature, oi.Key, err.Error()})
			continue
		}
		sum := sha256.Sum256(data)
		sd := &storedDigest{stored: oi.Key, sum: hexSum(sum), d: d}
		if d.Key != oi.Key || d.Endpoint != o.Endpoint {
			v.add(hour, Finding{DigestReordered, oi.Key, fmt.Sprintf("stored here but signed as %s of endpoint %s", d.Key, d.Endpoint)})
		}
		// A valid digest copied elsewhere is one digest: keep the copy
		// stored where it was signed for.
		if prev, dup := byKey[d.Key]; dup && (prev.stored == d.Key || oi.Key != d.Key) {
			continue
		}
		byKey[d.Key] = sd
	}
	valid := slices.Collect(maps.Values(byKey))
	slices.SortStableFunc(valid, func(a, b *storedDigest) int {
		return cmp.Or(cmp.Compare(a.d.Sequence, b.d.Sequence), strings.Compare(a.d.Key, b.d.Key))
	})

	// 2. Walk the chain in sequence order.
	for i, sd := range valid {
		d, hour := sd.d, sd.d.EndTime.UTC().Truncate(time.Hour)
		v.hour(hour).Digests++
		if i > 0 {
			p := valid[i-1].d
			switch {
			case d.Sequence == p.Sequence:
				v.add(hour, Finding{DigestReordered, d.Key, fmt.Sprintf("sequence %d is used by %s too (a forked chain)", d.Sequence, p.Key)})
			case d.EndTime.Before(p.EndTime):
				v.add(hour, Finding{DigestReordered, d.Key, fmt.Sprintf("sequence %d ends at %s, before sequence %d (%s)",
					d.Sequence, d.EndTime.Format(time.RFC3339), p.Sequence, p.EndTime.Format(time.RFC3339))})
			}
		}
		if d.Previous == nil {
			if i > 0 {
				v.add(hour, Finding{DigestMissing, d.Key, "the chain restarts here without a link to the previous digest"})
			}
			continue
		}
		if d.Previous.Sequence+1 != d.Sequence {
			v.add(hour, Finding{DigestReordered, d.Key, fmt.Sprintf("sequence %d links to sequence %d", d.Sequence, d.Previous.Sequence)})
		}
		p := byKey[d.Previous.Key]
		switch {
		case p == nil && invalid[d.Previous.Key]:
			// Reported as a bad digest already.
		case p == nil:
			ph := hour
			if h, _, ok := parseKey(d.Previous.Key); ok {
				ph = h
			}
			v.add(ph, Finding{DigestMissing, d.Previous.Key, fmt.Sprintf("digest %d is missing (linked from %s)", d.Previous.Sequence, d.Key)})
		case p.sum != d.Previous.SHA256:
			v.add(hour, Finding{DigestMissing, d.Previous.Key, fmt.Sprintf("digest %s does not match the hash linked from %s (replaced)", d.Previous.Key, d.Key)})
		case p.d.Sequence+1 != d.Sequence:
			v.add(hour, Finding{DigestReordered, d.Key, fmt.Sprintf("sequence %d follows sequence %d", d.Sequence, p.d.Sequence)})
		}
	}
	var newest *storedDigest
	if len(valid) > 0 {
		newest = valid[len(valid)-1]
		nd := newest.d
		r.Head = &Head{Endpoint: o.Endpoint, Key: nd.Key, Sequence: nd.Sequence, SHA256: newest.sum, EndTime: nd.EndTime, Reason: nd.Reason}
	}

	// 3. The local anchor: the chain must still reach it.
	truncated := false
	if a := o.Anchor; a != nil && a.Key != "" {
		ah := a.EndTime.UTC().Truncate(time.Hour)
		switch p := byKey[a.Key]; {
		case p == nil && invalid[a.Key]:
			truncated = true
		case p == nil:
			truncated = true
			v.add(ah, Finding{DigestMissing, a.Key, fmt.Sprintf("digest %d, the newest this server wrote, is missing: the chain was truncated", a.Sequence)})
		case p.sum != a.SHA256:
			v.add(ah, Finding{DigestMissing, a.Key, "the newest digest this server wrote was replaced"})
		}
	}

	// 4. The range, and one digest per hour while the server ran.
	r.Start, r.End = o.Start.UTC(), o.End.UTC()
	if r.End.IsZero() {
		r.End = now
	}
	if r.Start.IsZero() && len(valid) > 0 {
		r.Start = valid[0].d.EndTime.UTC().Truncate(time.Hour)
	}
	if len(valid) > 0 {
		v.checkHours(valid, r.Start, r.End, now)
	}

	// 5. The objects.
	exp := map[string]*expected{}
	for _, sd := range valid {
		for _, ob := range sd.d.Objects {
			exp[ob.Key] = &expected{size: ob.Size, sha: ob.SHA256}
		}
		for _, del := range sd.d.Deleted {
			e := &expected{size: del.Size, sha: del.SHA256, deleted: &del}
			exp[del.Key] = e
		}
		for _, rw := range sd.d.Rewritten {
			exp[rw.Key] = &expected{size: rw.Size, sha: rw.SHA256, rewrite: &rw}
		}
	}
	inRange := func(h time.Time) bool {
		return !h.Before(r.Start.Truncate(time.Hour)) && h.Before(r.End)
	}
	type unlisted struct {
		oi   objstore.ObjectInfo
		hour time.Time
		sha  string
	}
	var added []unlisted
	present := map[string]bool{}
	err := o.Bucket.List(ctx, o.Endpoint+"/", func(oi objstore.ObjectInfo) error {
		present[oi.Key] = true
		h, ok := objectHour(oi.Key)
		switch {
		case ok && !inRange(h):
			return nil
		case !ok:
			// Not a capture object key: it belongs to no hour. Report it
			// by the hour it was written, if that is after the start.
			h = oi.ModTime.UTC().Truncate(time.Hour)
			if h.Before(r.Start.Truncate(time.Hour)) {
				return nil
			}
		}
		r.Objects++
		v.hour(h).Objects++
		e := exp[oi.Key]
		if e != nil && e.deleted == nil && oi.Size != e.size {
			v.add(h, Finding{ObjectModified, oi.Key, fmt.Sprintf("size %d, digest says %d", oi.Size, e.size)})
			return nil
		}
		_, sum, err := HashObject(ctx, o.Bucket, oi.Key)
		if err != nil {
			return fmt.Errorf("verify: read %s: %w", oi.Key, err)
		}
		sha := hexSum(sum)
		switch {
		case e == nil:
			added = append(added, unlisted{oi, h, sha})
		case e.deleted != nil:
			v.add(h, Finding{ObjectAdded, oi.Key, fmt.Sprintf("present although its deletion (%s) was recorded", e.deleted.Reason)})
		case sha != e.sha:
			v.add(h, Finding{ObjectModified, oi.Key, fmt.Sprintf("SHA-256 %s, digest says %s", sha[:16], e.sha[:16])})
		case e.rewrite != nil:
			v.add(h, Finding{ObjectRewritten, oi.Key, fmt.Sprintf("rewritten by retention (%s) at %s", e.rewrite.Reason, e.rewrite.Time.Format(time.RFC3339))})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	missing := map[string]string{} // "size/sha" of listed objects that are gone → key
	var missingKeys []string
	for key, e := range exp {
		h, ok := objectHour(key)
		if !ok || !inRange(h) || present[key] {
			continue
		}
		if e.deleted != nil {
			v.add(h, Finding{ObjectDeleted, key, fmt.Sprintf("deleted by retention (%s) at %s", e.deleted.Reason, e.deleted.Time.Format(time.RFC3339))})
			continue
		}
		missing[strconv.FormatInt(e.size, 10)+"/"+e.sha] = key
		missingKeys = append(missingKeys, key)
	}
	moved := map[string]bool{}
	for _, a := range added {
		if from, ok := missing[strconv.FormatInt(a.oi.Size, 10)+"/"+a.sha]; ok && !moved[from] {
			moved[from] = true
			v.add(a.hour, Finding{ObjectReordered, a.oi.Key, "holds the bytes listed for " + from})
			continue
		}
		if newest != nil && newest.d.Reason != ReasonShutdown && !truncated && a.oi.ModTime.After(newest.d.EndTime) {
			v.add(a.hour, Finding{ObjectPending, a.oi.Key, "stored after the newest digest; the next digest lists it"})
			continue
		}
		v.add(a.hour, Finding{ObjectAdded, a.oi.Key, "present but listed in no digest"})
	}
	slices.Sort(missingKeys)
	for _, key := range missingKeys {
		if !moved[key] {
			h, _ := objectHour(key)
			v.add(h, Finding{ObjectMissing, key, "listed in a digest but absent, and no deletion was recorded"})
		}
	}

	if len(valid) == 0 && (r.Digests > 0 || r.Objects > 0) {
		v.add(r.End.Truncate(time.Hour), Finding{DigestMissing, EndpointPrefix(o.Endpoint), "the endpoint has no valid digest"})
	}

	for _, h := range v.hours {
		if h.Digests > 0 || h.Objects > 0 || len(h.Findings) > 0 {
			r.Hours = append(r.Hours, *h)
		}
	}
	slices.SortFunc(r.Hours, func(a, b HourReport) int { return a.Hour.Compare(b.Hour) })
	return r, nil
}

type verifier struct {
	o     VerifyOptions
	hours map[time.Time]*HourReport
}

func (v *verifier) hour(h time.Time) *HourReport {
	h = h.UTC().Truncate(time.Hour)
	hr := v.hours[h]
	if hr == nil {
		hr = &HourReport{Hour: h, Findings: []Finding{}}
		v.hours[h] = hr
	}
	return hr
}

func (v *verifier) add(h time.Time, f Finding) {
	hr := v.hour(h)
	hr.Findings = append(hr.Findings, f)
}

// checkHours reports the hours in [start, end) after the chain began that
// have no digest although the server ran: hours between a shutdown digest
// and the next digest are hours the server was stopped, and hours not yet
// over by Grace are not due.
func (v *verifier) checkHours(valid []*storedDigest, start, end, now time.Time) {
	covered := map[time.Time]bool{}
	for _, sd := range valid {
		covered[sd.d.EndTime.UTC().Truncate(time.Hour)] = true
	}
	stopped := func(h time.Time) bool {
		for i, sd := range valid {
			a := sd.d.EndTime.UTC().Truncate(time.Hour)
			if sd.d.Reason != ReasonShutdown || !h.After(a) {
				continue
			}
			if i == len(valid)-1 {
				return true
			}
			if b := valid[i+1].d.EndTime.UTC().Truncate(time.Hour); h.Before(b) {
				return true
			}
		}
		return false
	}
	first := valid[0].d.EndTime.UTC().Truncate(time.Hour)
	for h := start.UTC().Truncate(time.Hour); h.Before(end); h = h.Add(time.Hour) {
		if h.Before(first) || covered[h] || now.Before(h.Add(v.o.Grace)) || stopped(h) {
			continue
		}
		explained := false
		for _, f := range v.hour(h).Findings {
			if f.Kind == DigestMissing {
				explained = true
			}
		}
		if !explained {
			v.add(h, Finding{DigestMissing, "", "no digest was written in this hour although the server was running"})
		}
	}
}

// digestHour is the hour folder of a stored digest, or its modification hour.
func digestHour(oi objstore.ObjectInfo) time.Time {
	if h, _, ok := parseKey(oi.Key); ok {
		return h
	}
	return oi.ModTime.UTC().Truncate(time.Hour)
}

// objectHour reads the hour folder of a capture object key,
// {endpoint}/{variant}/yyyy/mm/dd/HH/{name}.
func objectHour(key string) (time.Time, bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 7 {
		return time.Time{}, false
	}
	h, err := time.Parse("2006/01/02/15", strings.Join(parts[2:6], "/"))
	if err != nil {
		return time.Time{}, false
	}
	return h, true
}

// readAll reads a whole object, at most limit bytes.
func readAll(ctx context.Context, b objstore.Bucket, key string, limit int64) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return data, nil
}
