package capture_test

import (
	"time"

	"github.com/glassbox-dev/glassbox/internal/capture"
)

var t0 = time.Date(2024, 5, 2, 14, 7, 31, 0, time.UTC)

func eventIDs(recs []*capture.Record) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EventMetadata.EventID
	}
	return ids
}
