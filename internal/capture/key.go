package capture

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ObjectKey returns the key of a capture object in SageMaker's layout,
// relative to the blob store's root:
//
//	{endpoint}/{variant}/yyyy/mm/dd/HH/{MM}-{SS}-{mmm}-{id}.jsonl
//
// The time is converted to UTC; its hour names the folder and its minute,
// second and millisecond start the file name.
func ObjectKey(endpoint, variant string, t time.Time, id string) string {
	t = t.UTC()
	return fmt.Sprintf("%s/%s/%04d/%02d/%02d/%02d/%02d-%02d-%03d-%s.jsonl",
		endpoint, variant, t.Year(), int(t.Month()), t.Day(), t.Hour(),
		t.Minute(), t.Second(), t.Nanosecond()/int(time.Millisecond), id)
}

// ObjectKeyInfo is what a capture object's key says about its contents.
type ObjectKeyInfo struct {
	Endpoint string
	Variant  string
	// Hour is the start of the UTC hour the object's records were invoked in.
	Hour time.Time
}

// ParseObjectKey reads a key in the layout of ObjectKey. Any prefix before
// the endpoint segment must be stripped first.
func ParseObjectKey(key string) (ObjectKeyInfo, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 7 || !strings.HasSuffix(parts[6], ".jsonl") {
		return ObjectKeyInfo{}, fmt.Errorf("capture object key %q: want endpoint/variant/yyyy/mm/dd/HH/name.jsonl", key)
	}
	var n [4]int
	for i, p := range parts[2:6] {
		v, err := strconv.Atoi(p)
		if err != nil {
			return ObjectKeyInfo{}, fmt.Errorf("capture object key %q: %q is not a number", key, p)
		}
		n[i] = v
	}
	hour := time.Date(n[0], time.Month(n[1]), n[2], n[3], 0, 0, 0, time.UTC)
	if hour.Year() != n[0] || int(hour.Month()) != n[1] || hour.Day() != n[2] || hour.Hour() != n[3] {
		return ObjectKeyInfo{}, fmt.Errorf("capture object key %q: not a valid date and hour", key)
	}
	return ObjectKeyInfo{Endpoint: parts[0], Variant: parts[1], Hour: hour}, nil
}
