// Package archtest enforces the import ladder of STYLE.md section 7:
// project imports point down the ranks only, domain packages do not import
// net/http, edges never import adapters, non-test code never imports test
// helpers, and every project package has a rank.
//
// It has no non-test code; the check runs as part of go test ./....
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// modulePath is the import path of the Glassbox module.
const modulePath = "github.com/glassbox-dev/glassbox"

// Ranks of the import ladder.
const (
	rankVocabulary = 0 // root vocabulary and pure leaf packages
	rankPort       = 1 // config and the ports
	rankDomain     = 2
	rankAdapter    = 3
	rankEdge       = 4
	rankCmd        = 5
)

// rankName labels rank r in failure messages.
func rankName(r int) string {
	return [...]string{"vocabulary", "port", "domain", "adapter", "edge", "cmd"}[r]
}

// ranks returns the rank of each listed project package, by path relative to
// the module root ("" is the root package). Unlisted subpackages inherit the
// rank of their closest listed ancestor (the root package excepted).
func ranks() map[string]int {
	return map[string]int{
		"":                rankVocabulary,
		"internal/stats":  rankVocabulary,
		"internal/redact": rankVocabulary,

		"internal/config":   rankPort,
		"internal/objstore": rankPort,
		"internal/keys":     rankPort,

		"internal/capture":    rankDomain,
		"internal/monitor":    rankDomain,
		"internal/compliance": rankDomain,
		"internal/cost":       rankDomain,
		"internal/registry":   rankDomain,
		"internal/auth":       rankDomain,
		"internal/audit":      rankDomain,
		"internal/endpoints":  rankDomain,
		"internal/digest":     rankDomain,

		"internal/objstore/file": rankAdapter,
		"internal/objstore/s3":   rankAdapter,
		"internal/keys/kms":      rankAdapter,
		"internal/store":         rankAdapter,
		"internal/notify":        rankAdapter,
		"internal/sagemaker":     rankAdapter,
		"internal/iac":           rankAdapter,
		"internal/oidc":          rankAdapter,

		"internal/gateway": rankEdge,
		"internal/api":     rankEdge,
		"internal/ui":      rankEdge,

		"cmd":   rankCmd,
		"tools": rankCmd,
	}
}

// sideways lists the allowed imports between different components of the
// same rank, as importer component → imported component.
func sideways() map[string][]string {
	return map[string][]string{
		"internal/monitor": {"internal/capture"}, // the capture format is monitor's input
		"internal/cost":    {"internal/capture"}, // cost reads usage from capture object keys (ParseObjectKey)
	}
}

// pkg is one package as reported by go list.
type pkg struct {
	ImportPath string
	Imports    []string // non-test imports only
	Error      *struct{ Err string }
}

// class is what the ladder knows about one project package.
type class struct {
	helper    bool   // a test helper: exempt as importer, banned as import
	component string // the ranks() entry it falls under; "" if none
	rank      int    // meaningful only when ranked
	ranked    bool   // the package is the root or under a ranks() entry
}

// classify places the project package rel (relative to the module root).
func classify(rel string) class {
	if isHelper(rel) {
		return class{helper: true}
	}
	rs := ranks()
	if rel == "" {
		return class{component: "", rank: rs[""], ranked: true}
	}
	for c := rel; c != "."; c = path.Dir(c) {
		if r, ok := rs[c]; ok {
			return class{component: c, rank: r, ranked: true}
		}
	}
	return class{}
}

// isHelper reports whether the project package rel is a test helper: its last
// element ends in "test" (objstoretest, storetest), or it is or lies below
// internal/archtest or internal/testenv.
func isHelper(rel string) bool {
	if strings.HasSuffix(rel, "test") {
		return true
	}
	for _, h := range []string{"internal/archtest", "internal/testenv"} {
		if rel == h || strings.HasPrefix(rel, h+"/") {
			return true
		}
	}
	return false
}

// projectRel returns importPath relative to the module root, and whether it
// is a project package at all.
func projectRel(importPath string) (string, bool) {
	if importPath == modulePath {
		return "", true
	}
	rel, ok := strings.CutPrefix(importPath, modulePath+"/")
	return rel, ok
}

// isNetHTTP reports whether importPath is net/http or one of its subpackages.
func isNetHTTP(importPath string) bool {
	return importPath == "net/http" || strings.HasPrefix(importPath, "net/http/")
}

// checkLadder returns one message per rule violation in pkgs, in a stable
// order. It is pure so that its own tests can feed it fake import graphs.
func checkLadder(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		rel, ok := projectRel(p.ImportPath)
		if !ok {
			continue
		}
		from := classify(rel)
		if from.helper {
			continue // helpers may import anything
		}
		if !from.ranked {
			out = append(out, fmt.Sprintf("package %s has no rank in archtest: add it", p.ImportPath))
			continue
		}
		if from.rank == rankCmd {
			continue // cmd and tools may import anything
		}
		for _, imp := range p.Imports {
			if msg := checkImport(p.ImportPath, from, imp); msg != "" {
				out = append(out, msg)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkImport returns a message if the package importer (classified as from,
// rank 0–4) may not import imp, and "" if it may.
func checkImport(importer string, from class, imp string) string {
	where := fmt.Sprintf("%s (rank %d, %s) imports %s", importer, from.rank, rankName(from.rank), imp)
	rel, ok := projectRel(imp)
	if !ok {
		if from.rank == rankDomain && isNetHTTP(imp) {
			return where + ": domain packages must not import net/http"
		}
		return ""
	}
	to := classify(rel)
	switch {
	case to.helper:
		return where + ": non-test code must not import a test helper"
	case !to.ranked:
		return "" // reported as an unranked package in its own right
	case to.component == from.component:
		return "" // within one component (e.g. capture/spool → capture)
	case slices.Contains(sideways()[from.component], to.component):
		return ""
	}
	var maxRank int
	switch from.rank {
	case rankVocabulary:
		return where + ": rank 0 packages may import no project package"
	case rankPort:
		maxRank = rankVocabulary
	case rankDomain:
		maxRank = rankPort
	case rankAdapter, rankEdge:
		maxRank = rankDomain
	}
	if to.rank > maxRank {
		return fmt.Sprintf("%s (rank %d, %s): rank %d may import ranks 0-%d only",
			where, to.rank, rankName(to.rank), from.rank, maxRank)
	}
	return ""
}

// goList runs go list -e -json ./... at the module root and returns the
// packages. Packages that fail to load (someone else's work in progress) are
// logged and checked as far as go list could read them.
func goList(t *testing.T) []pkg {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	modFile := strings.TrimSpace(string(gomod))
	if modFile == "" || modFile == "/dev/null" || modFile == "NUL" {
		t.Fatalf("go env GOMOD = %q: not inside the module", modFile)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	cmd.Dir = filepath.Dir(modFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", cmd.Dir, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Logf("go list: %s: %s (checking what loaded)", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportLadder(t *testing.T) {
	pkgs := goList(t)
	if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == modulePath }) {
		t.Fatalf("go list did not report the root package %s; got %d packages", modulePath, len(pkgs))
	}
	for _, msg := range checkLadder(pkgs) {
		t.Error(msg)
	}
}

func TestCheckLadder(t *testing.T) {
	m := func(rel string) string {
		if rel == "" {
			return modulePath
		}
		return modulePath + "/" + rel
	}
	tests := []struct {
		name string
		pkgs []pkg
		want []string // substrings, one per violation, in order
	}{
		{
			name: "clean ladder",
			pkgs: []pkg{
				{ImportPath: m(""), Imports: []string{"errors", "fmt"}},
				{ImportPath: m("internal/objstore"), Imports: []string{"context", m("")}},
				{ImportPath: m("internal/capture"), Imports: []string{m(""), m("internal/objstore"), m("internal/stats")}},
				{ImportPath: m("internal/capture/spool"), Imports: []string{m("internal/capture")}},
				{ImportPath: m("internal/monitor"), Imports: []string{m("internal/capture"), m("internal/capture/spool")}},
				{ImportPath: m("internal/objstore/file"), Imports: []string{m("internal/objstore"), m("internal/capture")}},
				{ImportPath: m("internal/notify"), Imports: []string{"net/http", m("internal/monitor")}},
				{ImportPath: m("internal/gateway"), Imports: []string{"net/http", m("internal/capture"), m("internal/config")}},
				{ImportPath: m("cmd/glassbox"), Imports: []string{m("internal/objstore/file"), m("internal/gateway"), m("internal/objstore/objstoretest")}},
				{ImportPath: m("tools/gen"), Imports: []string{m("internal/store")}},
				{ImportPath: m("internal/objstore/objstoretest"), Imports: []string{m("internal/objstore/file"), m("internal/api")}},
				{ImportPath: m("internal/testenv"), Imports: []string{m("internal/store")}},
				{ImportPath: m("internal/archtest")},
				{ImportPath: "example.com/other", Imports: []string{m("internal/store")}},
			},
		},
		{
			name: "rank 0 imports a port",
			pkgs: []pkg{{ImportPath: m("internal/stats"), Imports: []string{m("internal/objstore")}}},
			want: []string{"internal/stats (rank 0, vocabulary) imports " + m("internal/objstore") + ": rank 0 packages may import no project package"},
		},
		{
			name: "root imports stats",
			pkgs: []pkg{{ImportPath: m(""), Imports: []string{m("internal/stats")}}},
			want: []string{m("") + " (rank 0, vocabulary) imports " + m("internal/stats")},
		},
		{
			name: "port imports a port",
			pkgs: []pkg{{ImportPath: m("internal/objstore"), Imports: []string{m("internal/config")}}},
			want: []string{"imports " + m("internal/config") + " (rank 1, port): rank 1 may import ranks 0-0 only"},
		},
		{
			name: "domain imports an adapter",
			pkgs: []pkg{{ImportPath: m("internal/registry"), Imports: []string{m("internal/store")}}},
			want: []string{"internal/registry (rank 2, domain) imports " + m("internal/store") + " (rank 3, adapter)"},
		},
		{
			name: "subpackage inherits domain rank",
			pkgs: []pkg{{ImportPath: m("internal/capture/foo"), Imports: []string{m("internal/objstore/file")}}},
			want: []string{"internal/capture/foo (rank 2, domain) imports " + m("internal/objstore/file")},
		},
		{
			name: "domain sideways other than monitor to capture",
			pkgs: []pkg{
				{ImportPath: m("internal/capture"), Imports: []string{m("internal/monitor")}},
				{ImportPath: m("internal/audit"), Imports: []string{m("internal/auth")}},
			},
			want: []string{
				"internal/audit (rank 2, domain) imports " + m("internal/auth"),
				"internal/capture (rank 2, domain) imports " + m("internal/monitor"),
			},
		},
		{
			name: "domain imports net/http",
			pkgs: []pkg{{ImportPath: m("internal/monitor"), Imports: []string{"net/http", "net/http/httputil"}}},
			want: []string{
				"imports net/http/httputil: domain packages must not import net/http",
				"imports net/http: domain packages must not import net/http",
			},
		},
		{
			name: "edge imports an adapter",
			pkgs: []pkg{{ImportPath: m("internal/api"), Imports: []string{m("internal/store")}}},
			want: []string{"internal/api (rank 4, edge) imports " + m("internal/store") + " (rank 3, adapter)"},
		},
		{
			name: "adapter imports an edge",
			pkgs: []pkg{{ImportPath: m("internal/notify"), Imports: []string{m("internal/api")}}},
			want: []string{"internal/notify (rank 3, adapter) imports " + m("internal/api") + " (rank 4, edge)"},
		},
		{
			name: "adapter imports another adapter",
			pkgs: []pkg{{ImportPath: m("internal/objstore/s3"), Imports: []string{m("internal/keys/kms")}}},
			want: []string{"internal/objstore/s3 (rank 3, adapter) imports " + m("internal/keys/kms") + " (rank 3, adapter)"},
		},
		{
			name: "non-test code imports test helpers",
			pkgs: []pkg{
				{ImportPath: m("internal/objstore/file"), Imports: []string{m("internal/objstore/objstoretest")}},
				{ImportPath: m("internal/api"), Imports: []string{m("internal/testenv")}},
			},
			want: []string{
				"internal/api (rank 4, edge) imports " + m("internal/testenv") + ": non-test code must not import a test helper",
				"internal/objstore/file (rank 3, adapter) imports " + m("internal/objstore/objstoretest") + ": non-test code must not import a test helper",
			},
		},
		{
			name: "unranked packages",
			pkgs: []pkg{
				{ImportPath: m("internal/newthing")},
				{ImportPath: m("pkg/lib")},
				{ImportPath: m("internal")},
			},
			want: []string{
				"package " + m("internal") + " has no rank in archtest: add it",
				"package " + m("internal/newthing") + " has no rank in archtest: add it",
				"package " + m("pkg/lib") + " has no rank in archtest: add it",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkLadder(tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("checkLadder returned %d violations, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		rel  string
		want class
	}{
		{"", class{component: "", rank: rankVocabulary, ranked: true}},
		{"internal/objstore", class{component: "internal/objstore", rank: rankPort, ranked: true}},
		{"internal/objstore/file", class{component: "internal/objstore/file", rank: rankAdapter, ranked: true}},
		{"internal/objstore/file/sub", class{component: "internal/objstore/file", rank: rankAdapter, ranked: true}},
		{"internal/objstore/other", class{component: "internal/objstore", rank: rankPort, ranked: true}},
		{"internal/objstore/objstoretest", class{helper: true}},
		{"internal/store/storetest", class{helper: true}},
		{"internal/testenv", class{helper: true}},
		{"internal/archtest", class{helper: true}},
		{"cmd/glassbox", class{component: "cmd", rank: rankCmd, ranked: true}},
		{"tools/x/y", class{component: "tools", rank: rankCmd, ranked: true}},
		{"internal", class{}},
		{"internal/unknown", class{}},
		{"other", class{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, classify(tt.rel), cmp.AllowUnexported(class{})); diff != "" {
			t.Errorf("classify(%q) mismatch (-want +got):\n%s", tt.rel, diff)
		}
	}
}
