package redact_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/glassbox-dev/glassbox/internal/redact"
)

//go:generate go run ./testdata/gen -o testdata/corpus.jsonl

// corpusFloor is the precision and recall every detector must reach on
// testdata/corpus.jsonl; docs/redaction.md has the measured values.
const corpusFloor = 0.95

type corpusLine struct {
	Text  string `json:"text"`
	Spans []struct {
		Detector   string `json:"detector"`
		Start, End int
	} `json:"spans"`
}

func readCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	f, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l corpusLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("corpus line %d: %v", len(out)+1, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCorpus_precisionRecall scores every detector on the labelled corpus.
// A found span counts for precision when it overlaps a labelled span of
// the same detector; a labelled span counts for recall only when a found
// span of its detector covers it whole (a partial match leaves clear
// digits behind).
func TestCorpus_precisionRecall(t *testing.T) {
	lines := readCorpus(t)
	type score struct{ tp, fp, found, labelled, hits int }
	scores := map[string]*score{}
	for _, d := range redact.Detectors() {
		scores[d] = &score{}
	}
	for n, l := range lines {
		got := redact.Find([]byte(l.Text))
		for _, m := range got {
			s := scores[m.Detector]
			s.found++
			ok := false
			for _, want := range l.Spans {
				if want.Detector == m.Detector && m.Start < want.End && want.Start < m.End {
					ok = true
				}
			}
			if ok {
				s.tp++
			} else {
				s.fp++
				t.Logf("line %d: false %s %q in %q", n+1, m.Detector, l.Text[m.Start:m.End], l.Text)
			}
		}
		for _, want := range l.Spans {
			s := scores[want.Detector]
			s.labelled++
			covered := false
			for _, m := range got {
				if m.Detector == want.Detector && m.Start <= want.Start && want.End <= m.End {
					covered = true
				}
			}
			if covered {
				s.hits++
			} else {
				t.Logf("line %d: missed %s %q in %q", n+1, want.Detector, l.Text[want.Start:want.End], l.Text)
			}
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| detector | labelled | found | precision | recall |\n| --- | ---: | ---: | ---: | ---: |\n")
	for _, d := range redact.Detectors() {
		s := scores[d]
		precision, recall := 1.0, 1.0
		if s.found > 0 {
			precision = float64(s.tp) / float64(s.found)
		}
		if s.labelled > 0 {
			recall = float64(s.hits) / float64(s.labelled)
		}
		fmt.Fprintf(&table, "| %s | %d | %d | %.3f | %.3f |\n", d, s.labelled, s.found, precision, recall)
		if s.labelled == 0 {
			t.Errorf("%s: the corpus has no labelled spans", d)
		}
		if precision < corpusFloor || recall < corpusFloor {
			t.Errorf("%s: precision %.3f, recall %.3f; the floor is %.2f", d, precision, recall, corpusFloor)
		}
	}
	t.Logf("%d lines\n%s", len(lines), table.String())
}
