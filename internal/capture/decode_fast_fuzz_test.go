package capture

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeFast proves the fast decoder's contract against encoding/json:
// whenever decodeFast accepts a line, the Record equals what json.Unmarshal
// produces, and whenever json.Unmarshal fails, decodeFast declines. It also
// checks that DecodeRecordInto, reusing a record that held a full Glassbox
// line, agrees with DecodeRecord on the result and on the error message.
func FuzzDecodeFast(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Add(churnLine())
	for _, tc := range decodeFastCases {
		f.Add([]byte(tc.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var fast, slow Record
		ok := decodeFast(line, &fast)
		err := json.Unmarshal(line, &slow)
		if err != nil && ok {
			t.Fatalf("decodeFast accepted a line json.Unmarshal rejects (%v):\n%q", err, line)
		}
		if ok {
			if diff := cmp.Diff(slow, fast); diff != "" {
				t.Fatalf("decodeFast differs from json.Unmarshal (-json +fast):\n%s\nline: %q", diff, line)
			}
		}

		want, wantErr := DecodeRecord(line)
		var reused Record
		if err := DecodeRecordInto([]byte(fastGlassboxLine), &reused); err != nil {
			t.Fatalf("decode the glassbox line: %v", err)
		}
		gotErr := DecodeRecordInto(line, &reused)
		switch {
		case (wantErr == nil) != (gotErr == nil):
			t.Fatalf("DecodeRecord error %v, DecodeRecordInto error %v", wantErr, gotErr)
		case wantErr != nil:
			if wantErr.Error() != gotErr.Error() {
				t.Fatalf("error messages differ:\n DecodeRecord     %v\n DecodeRecordInto %v", wantErr, gotErr)
			}
		default:
			if diff := cmp.Diff(want, &reused); diff != "" {
				t.Fatalf("DecodeRecordInto differs from DecodeRecord (-want +got):\n%s", diff)
			}
		}
	})
}
