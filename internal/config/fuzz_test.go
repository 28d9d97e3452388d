package config_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/config"
)

// FuzzParse checks that Parse never panics, that whatever it accepts is
// valid, and that an accepted config survives a marshal/parse round trip.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range append(files, examplePath) {
		f.Add(mustReadFile(f, path))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse returned a config along with error %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		// Values were expanded once already; escape $ so that the second
		// Parse reads them literally. Keys never contain $ in a valid config
		// (tag keys disallow it), so the whole text can be escaped.
		out = bytes.ReplaceAll(out, []byte("$"), []byte("$$"))
		again, err := config.Parse(out)
		if err != nil {
			t.Fatalf("Parse of marshalled config: %v\n%s", err, out)
		}
		if diff := cmp.Diff(cfg, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s\nmarshalled:\n%s", diff, out)
		}
	})
}
