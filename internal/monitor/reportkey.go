package monitor

import (
	"fmt"
	"strings"
	"time"
)

// DefaultReportsPrefix is the blob-store folder that holds monitoring
// reports, beside the endpoints' capture folders.
const DefaultReportsPrefix = "reports"

// ReportKey returns the folder of one execution's report:
// {prefix}/{endpoint}/{schedule}/yyyy/mm/dd/HH, where the hour is t's (the
// scheduled time, as SageMaker lays out its reports). An empty prefix means
// DefaultReportsPrefix.
func ReportKey(prefix, endpoint, schedule string, t time.Time) string {
	if prefix = strings.Trim(prefix, "/"); prefix == "" {
		prefix = DefaultReportsPrefix
	}
	t = t.UTC()
	return fmt.Sprintf("%s/%s/%s/%04d/%02d/%02d/%02d", prefix, endpoint, schedule,
		t.Year(), int(t.Month()), t.Day(), t.Hour())
}
