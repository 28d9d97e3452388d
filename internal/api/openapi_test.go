package api_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/glassbox-dev/glassbox/internal/api"
	"github.com/glassbox-dev/glassbox/internal/auth"
)

// openAPIDoc is where the API is described.
const openAPIDoc = "../../docs/openapi.yaml"

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func TestOpenAPI_MatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", openAPIDoc, err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.0.") {
		t.Fatalf("openapi version %q, want 3.0.x", v)
	}
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths")
	}

	a, err := api.New(api.Options{Store: struct{ api.Store }{}, Endpoints: &endpointService{}, Authorizer: mustAuthorizer(t)})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]api.Route{}
	for _, r := range a.Routes() {
		served[strings.ToLower(r.Method)+" "+r.Pattern] = r
	}

	documented := map[string]bool{}
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range httpMethods {
			op, ok := ops[m].(map[string]any)
			if !ok {
				continue
			}
			key := m + " " + p
			documented[key] = true
			r, ok := served[key]
			if !ok {
				t.Errorf("%s documents %s %s, which the API does not serve", openAPIDoc, strings.ToUpper(m), p)
				continue
			}
			act, ok := op["x-glassbox-action"].(string)
			if !ok {
				t.Errorf("%s %s: no x-glassbox-action", strings.ToUpper(m), p)
			} else if auth.Action(act) != r.Action {
				t.Errorf("%s %s: x-glassbox-action %q, the route requires %q", strings.ToUpper(m), p, act, r.Action)
			}
			if _, ok := op["responses"].(map[string]any)["401"]; !ok {
				t.Errorf("%s %s: no 401 response", strings.ToUpper(m), p)
			}
			// Every {param} of the path is declared (on the path or the operation).
			for _, name := range pathParams(p) {
				if !declaresParam(doc, ops["parameters"], name) && !declaresParam(doc, op["parameters"], name) {
					t.Errorf("%s %s: path parameter %s not declared", strings.ToUpper(m), p, name)
				}
			}
		}
	}
	for key, r := range served {
		if !documented[key] {
			t.Errorf("route %s %s is missing from %s", r.Method, r.Pattern, openAPIDoc)
		}
	}

	// Every local $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch t2 := v.(type) {
		case map[string]any:
			if ref, ok := t2["$ref"].(string); ok && resolve(doc, ref) == nil {
				t.Errorf("unresolved $ref %s", ref)
			}
			for _, e := range t2 {
				walk(e)
			}
		case []any:
			for _, e := range t2 {
				walk(e)
			}
		}
	}
	walk(doc)
}

func mustAuthorizer(t *testing.T) *auth.Authorizer {
	t.Helper()
	a, err := auth.NewAuthorizer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var paramRE = regexp.MustCompile(`\{([^}]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range paramRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

// declaresParam reports whether a parameters list declares the path
// parameter name.
func declaresParam(doc map[string]any, params any, name string) bool {
	list, _ := params.([]any)
	return slices.ContainsFunc(list, func(p any) bool {
		m, _ := p.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			m, _ = resolve(doc, ref).(map[string]any)
		}
		return m["in"] == "path" && m["name"] == name && m["required"] == true
	})
}

// resolve follows a local JSON pointer ("#/components/schemas/Error").
func resolve(doc map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return cur
}
