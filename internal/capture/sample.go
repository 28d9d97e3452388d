package capture

import "math/rand/v2"

// Sample reports whether one request is captured at the given percentage
// (0–100). Every request is decided independently; 0 never and 100 always
// captures.
func Sample(percent float64) bool {
	switch {
	case percent >= 100:
		return true
	case percent <= 0:
		return false
	}
	return rand.Float64()*100 < percent
}
