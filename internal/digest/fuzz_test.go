package digest_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/digest"
)

// FuzzParseDigest checks that ParseDigest never panics, and that whatever
// it accepts verifies only with an intact signature.
func FuzzParseDigest(f *testing.F) {
	b := &digest.Body{Format: digest.Format, Endpoint: "ep", Key: digest.Key("ep", t0, 2), Sequence: 2,
		Reason: digest.ReasonHourly, StartTime: t0, EndTime: t0.Add(time.Minute),
		Previous: &digest.Link{Key: digest.Key("ep", t0, 1), Sequence: 1, SHA256: "00000000000000000000000000000000000000000000000000000000000000aa"},
		Objects:  []digest.Object{{Key: "ep/v/2026/03/14/10/a.jsonl", Size: 10, SHA256: "1111111111111111111111111111111111111111111111111111111111111111"}},
		Deleted:  []digest.Deleted{{Key: "ep/v/2026/03/14/09/b.jsonl", Size: 1, SHA256: "2222222222222222222222222222222222222222222222222222222222222222", Reason: "r", Time: t0}},
	}
	seed, err := digest.Sign(b, testKey())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(digest.Magic + " ed25519 \n{}"))
	f.Add([]byte("\n"))
	pub := testKey().Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := digest.ParseDigest(data)
		if err != nil {
			return
		}
		if d.Sequence == 0 || d.Format != digest.Format || d.Endpoint == "" {
			t.Fatalf("accepted an invalid body: %+v", d.Body)
		}
		if d.Verify(pub) == nil && string(d.RawBody) != string(seed[len(seed)-len(d.RawBody):]) {
			t.Fatalf("a changed body verified")
		}
	})
}
