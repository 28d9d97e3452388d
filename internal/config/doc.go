// Package config owns the Glassbox configuration file: its schema, the
// defaults for every key, strict YAML decoding with environment-variable
// expansion, and validation that names the offending field path.
//
// The entry points are Load (read a file) and Parse (decode bytes). Both return
// a configuration that has its defaults applied and has passed Validate, so
// callers never see a half-checked Config. Every problem that can be tied to a
// key is reported as a Problem inside a ValidationError, with a path such as
// endpoints[0].variants[1].upstream.
//
// Decoding is strict: an unknown or duplicated key, a value of the wrong type
// and an unset environment variable are all errors rather than being ignored.
// Defaults are visible in one place, defaults.go: Default for the top-level
// sections and DefaultEndpoint / DefaultVariant for the values each list
// element starts from before its YAML is decoded onto it.
//
// This package sits on rank 1 of the dependency ladder: it imports the standard
// library and go.yaml.in/yaml/v3 only, and must not import anything under
// internal/. Components never read Config directly; cmd/glassbox translates it
// into each component's own Options.
package config
