package iac

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// Problem is a file, or a resource in one, that could not be read. Problems
// are reported and do not stop a scan.
type Problem struct {
	File    string
	Line    int // 0: unknown
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// maxFileBytes bounds the size of a file Scan reads.
const maxFileBytes = 64 << 20

// Scan reads every CloudFormation template and Terraform plan JSON among
// paths (files, or directories walked for .yaml, .yml, .json and .template
// files) and returns one Subject per SageMaker endpoint configuration and
// one compliance.KindBucket Subject per S3 bucket that no endpoint
// configuration of the same file captures into, in file order. A file named explicitly that cannot be parsed or is neither
// format is a Problem; in a walked directory, files of neither format are
// skipped silently. A path that does not exist is an error.
func Scan(paths []string) ([]compliance.Subject, []Problem, error) {
	var (
		subjects []compliance.Subject
		problems []Problem
	)
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("scan infrastructure code: %w", err)
		}
		if !info.IsDir() {
			s, pr := scanFile(p, true)
			subjects, problems = append(subjects, s...), append(problems, pr...)
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if n := d.Name(); f != p && (strings.HasPrefix(n, ".") || n == "node_modules") {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(f)) {
			case ".yaml", ".yml", ".json", ".template":
				files = append(files, f)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("scan infrastructure code: %w", err)
		}
		sort.Strings(files)
		for _, f := range files {
			s, pr := scanFile(f, false)
			subjects, problems = append(subjects, s...), append(problems, pr...)
		}
	}
	return subjects, problems, nil
}

// scanFile reads one file; explicit says the user named it.
func scanFile(file string, explicit bool) ([]compliance.Subject, []Problem) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, []Problem{{File: file, Message: err.Error()}}
	}
	if len(data) > maxFileBytes {
		return nil, []Problem{{File: file, Message: fmt.Sprintf("larger than %d bytes", maxFileBytes)}}
	}
	subjects, problems, err := parse(file, data)
	if errors.Is(err, errNotIaC) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, []Problem{{File: file, Message: err.Error()}}
	}
	return subjects, problems
}

var errNotIaC = errors.New("neither a CloudFormation template nor a Terraform plan JSON")

// parse reads data, detects its format and describes its endpoint configs.
func parse(file string, data []byte) ([]compliance.Subject, []Problem, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("parse: %w", err)
	}
	root := deref(&doc)
	switch {
	case root == nil || root.Kind != yaml.MappingNode:
		return nil, nil, errNotIaC
	case get(root, "format_version") != nil && get(root, "planned_values") != nil:
		s, p := parseTerraform(file, root)
		return s, p, nil
	case get(root, "AWSTemplateFormatVersion") != nil || isResources(get(root, "Resources")):
		s, p := parseCFN(file, root)
		return s, p, nil
	}
	return nil, nil, errNotIaC
}

// isResources reports a CloudFormation Resources section: a mapping whose
// entries have a Type.
func isResources(n *yaml.Node) bool {
	ok := false
	pairs(n, func(_, v *yaml.Node) {
		if t, _ := scalar(get(v, "Type")); strings.Contains(t, "::") {
			ok = true
		}
	})
	return ok
}
