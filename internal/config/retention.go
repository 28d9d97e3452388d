package config

import "time"

// maxRetentionDays bounds capture.retention_days and
// capture.payload_retention_days: 100 years, far beyond any legal hold,
// and small enough that the duration never overflows.
const maxRetentionDays = 36500

// Retention returns how long this endpoint's capture objects are kept
// (RetentionDays) and how long their payloads are kept
// (PayloadRetentionDays), as durations; 0 means forever.
func (c *Capture) Retention() (objects, payloads time.Duration) {
	const day = 24 * time.Hour
	return time.Duration(c.RetentionDays) * day, time.Duration(c.PayloadRetentionDays) * day
}

// HasRetention reports whether the retention sweeper has anything to do
// for this endpoint: either setting is non-zero.
func (c *Capture) HasRetention() bool {
	return c.RetentionDays > 0 || c.PayloadRetentionDays > 0
}

// validateRetention checks retention_days and payload_retention_days of
// the capture section at path: each 0 (keep forever) to maxRetentionDays,
// and payloads must expire strictly before the objects that hold them
// (stripping an object on the day it is deleted would be wasted work, and
// a longer payload retention can never apply).
func (c *Capture) validateRetention(ps *problems, path string) {
	for _, f := range []struct {
		key string
		v   int
	}{{"retention_days", c.RetentionDays}, {"payload_retention_days", c.PayloadRetentionDays}} {
		if f.v < 0 || f.v > maxRetentionDays {
			ps.add(path+"."+f.key, "must be between 0 (keep forever) and %d days, got %d", maxRetentionDays, f.v)
		}
	}
	if c.RetentionDays > 0 && c.PayloadRetentionDays > 0 && c.PayloadRetentionDays >= c.RetentionDays {
		ps.add(path+".payload_retention_days", "must be less than retention_days (%d), got %d: payloads cannot outlive the objects that hold them",
			c.RetentionDays, c.PayloadRetentionDays)
	}
}
