package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a non-negative time.Duration as written in the config file:
// either a Go duration string ("30s", "1m30s", "250ms") or a plain integer
// number of seconds (60). It encodes back as a Go duration string. Convert
// with time.Duration(d).
type Duration time.Duration

// ParseDuration parses s as a Duration: a Go duration string or a whole
// number of seconds. Negative values are an error.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New(`empty duration: want a Go duration such as "30s" or "1m30s", or a whole number of seconds`)
	}
	if isInteger(t) {
		// isInteger rules out syntax errors, so ParseInt can only overflow.
		n, err := strconv.ParseInt(t, 10, 64)
		switch {
		case n < 0 || t[0] == '-' && err != nil:
			return 0, fmt.Errorf("duration %s must not be negative", quote(s))
		case err != nil || n > math.MaxInt64/int64(time.Second):
			return 0, fmt.Errorf("duration %s is out of range", quote(s))
		}
		return Duration(time.Duration(n) * time.Second), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf(`cannot parse %s as a duration: want a Go duration such as "30s" or "1m30s", or a whole number of seconds`, quote(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s must not be negative", quote(s))
	}
	return Duration(d), nil
}

// isInteger reports whether s is an optionally signed run of ASCII digits.
func isInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the Go duration string, such as "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML encodes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML decodes a scalar with ParseDuration. Parse does not use it
// (it decodes with path-aware errors); it serves direct yaml.Unmarshal users.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration, got %s", n.Line, kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// ByteSize is a non-negative number of bytes as written in the config file:
// a plain integer (6291456) or an integer with a unit ("6MiB", "64 MiB",
// "512KB"). KB, MB, GB and TB are decimal (powers of 1000); KiB, MiB, GiB
// and TiB are binary (powers of 1024); B means bytes. Units are
// case-insensitive.
type ByteSize int64

// Byte size units.
const (
	B   ByteSize = 1
	KB  ByteSize = 1000
	MB           = 1000 * KB
	GB           = 1000 * MB
	TB           = 1000 * GB
	KiB ByteSize = 1024
	MiB          = 1024 * KiB
	GiB          = 1024 * MiB
	TiB          = 1024 * GiB
)

// byteUnit returns the size of a lower-case unit suffix.
func byteUnit(unit string) (ByteSize, bool) {
	switch unit {
	case "", "b":
		return B, true
	case "kb":
		return KB, true
	case "mb":
		return MB, true
	case "gb":
		return GB, true
	case "tb":
		return TB, true
	case "kib":
		return KiB, true
	case "mib":
		return MiB, true
	case "gib":
		return GiB, true
	case "tib":
		return TiB, true
	}
	return 0, false
}

// ParseByteSize parses s as a ByteSize: an integer number of bytes,
// optionally followed (with or without a space) by a unit. Negative values,
// fractions and values above math.MaxInt64 bytes are errors.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := byteUnit(unit)
	if !ok || !isInteger(num) {
		return 0, fmt.Errorf(`cannot parse %s as a byte size: want a whole number of bytes, or one with a unit such as "512KB", "6MiB" or "1GiB"`, quote(s))
	}
	if num[0] == '-' && strings.Trim(num[1:], "0") != "" {
		return 0, fmt.Errorf("byte size %s must not be negative", quote(s))
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(num, "-"), 10, 64)
	if err != nil || n > math.MaxInt64/int64(mult) {
		return 0, fmt.Errorf("byte size %s is too large", quote(s))
	}
	return ByteSize(n) * mult, nil
}

// String formats b with the largest binary unit that divides it exactly,
// such as "6MiB", or in bytes, such as "1000B".
func (b ByteSize) String() string {
	for _, u := range []struct {
		size ByteSize
		name string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalYAML encodes b as a string with a binary unit when one divides it
// exactly ("64MiB"), and as a plain integer otherwise.
func (b ByteSize) MarshalYAML() (any, error) {
	if b != 0 && b%KiB == 0 {
		return b.String(), nil
	}
	return int64(b), nil
}

// UnmarshalYAML decodes a scalar with ParseByteSize. Parse does not use it
// (it decodes with path-aware errors); it serves direct yaml.Unmarshal users.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a byte size, got %s", n.Line, kindName(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}
