package audit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/glassbox-dev/glassbox/internal/audit"
)

func chain(n int) []audit.Event {
	var evs []audit.Event
	var prev *audit.Event
	for i := 1; i <= n; i++ {
		e := audit.Event{Seq: int64(i), Time: time.Unix(int64(1e9+i), 0), Actor: "token:abc", Action: "endpoints.update",
			Resource: "endpoint/churn", Result: audit.ResultOK, Status: 200, RequestID: "r", ClientAddr: "127.0.0.1"}
		audit.Seal(prev, &e)
		evs = append(evs, e)
		prev = &evs[len(evs)-1]
	}
	return evs
}

func verify(evs []audit.Event) []audit.Problem {
	var v audit.Verifier
	for _, e := range evs {
		v.Add(e)
	}
	return v.Problems
}

func TestVerifier(t *testing.T) {
	if p := verify(chain(5)); len(p) != 0 {
		t.Fatalf("intact chain: problems %v", p)
	}
	tests := []struct {
		name    string
		tamper  func([]audit.Event) []audit.Event
		wantSeq int64
		want    string
	}{
		{"modified field", func(e []audit.Event) []audit.Event { e[2].Actor = "token:evil"; return e }, 3, "modified"},
		{"modified time", func(e []audit.Event) []audit.Event { e[1].Time = e[1].Time.Add(time.Second); return e }, 2, "modified"},
		{"deleted row", func(e []audit.Event) []audit.Event { return append(e[:2], e[3:]...) }, 4, "missing"},
		{"deleted last row and re-hashed", func(e []audit.Event) []audit.Event {
			e = e[:4]
			e[3].Details = "x"
			e[3].Hash = audit.ComputeHash(e[3].PrevHash, &e[3])
			return append(e, chain(5)[4]) // the old fifth still links to the original fourth
		}, 5, "prev_hash"},
		{"swapped rows", func(e []audit.Event) []audit.Event { e[1], e[2] = e[2], e[1]; return e }, 3, "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probs := verify(tt.tamper(chain(5)))
			if len(probs) == 0 {
				t.Fatal("tampering was not detected")
			}
			found := false
			for _, p := range probs {
				if p.Seq == tt.wantSeq || strings.Contains(p.Reason, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v do not name event %d or %q", probs, tt.wantSeq, tt.want)
			}
		})
	}
}
