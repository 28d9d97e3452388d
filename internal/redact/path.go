package redact

import (
	"fmt"
	"strconv"
	"strings"
)

// step is one step of a JSON path.
type step struct {
	kind  stepKind
	key   string // stepKey
	index int    // stepIndex
}

type stepKind uint8

const (
	stepKey   stepKind = iota // .name or ['name']
	stepIndex                 // [3]
	stepAny                   // .* or [*]: any key or index
)

// maxPathSteps bounds a JSON path.
const maxPathSteps = 64

// parsePath checks a JSON path as rules accept it and returns its steps.
// The syntax is "$" followed by at least one step: .name (letters, digits,
// '_' and '-'), ['name'] or ["name"] (any name without that quote or a
// backslash), [index] (0-based array index), and .* or [*] for any key or
// index. Filters, slices, recursive descent (..) and unions are not
// supported.
func parsePath(p string) ([]step, error) {
	if !strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("invalid JSON path %q: must start with $", p)
	}
	bad := func(why string) ([]step, error) {
		return nil, fmt.Errorf("invalid JSON path %q: %s", p, why)
	}
	var steps []step
	s := p[1:]
	for len(s) > 0 {
		if len(steps) == maxPathSteps {
			return bad(fmt.Sprintf("more than %d steps", maxPathSteps))
		}
		switch s[0] {
		case '.':
			s = s[1:]
			if strings.HasPrefix(s, ".") {
				return bad("recursive descent (..) is not supported")
			}
			if strings.HasPrefix(s, "*") {
				steps = append(steps, step{kind: stepAny})
				s = s[1:]
				continue
			}
			n := 0
			for n < len(s) && (isAlnum(s[n]) || s[n] == '_' || s[n] == '-') {
				n++
			}
			if n == 0 {
				return bad("want a name after '.' (letters, digits, _ and -; use ['name'] for others)")
			}
			steps = append(steps, step{kind: stepKey, key: s[:n]})
			s = s[n:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return bad("unclosed [")
			}
			in := s[1:end]
			switch {
			case in == "*":
				steps = append(steps, step{kind: stepAny})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				name := in[1 : len(in)-1]
				if strings.ContainsAny(name, "\\") || strings.IndexByte(name, in[0]) >= 0 {
					return bad("a quoted name may not hold its quote or a backslash")
				}
				steps = append(steps, step{kind: stepKey, key: name})
			case isDigits(in):
				n, err := strconv.Atoi(in)
				if err != nil || n > 1<<30 {
					return bad("array index out of range")
				}
				steps = append(steps, step{kind: stepIndex, index: n})
			default:
				return bad(fmt.Sprintf("unsupported step [%s]: want [index], [*] or ['name']", in))
			}
			s = s[end+1:]
		default:
			return bad(fmt.Sprintf("unexpected %q; want .name, ['name'], [index] or [*]", s[0]))
		}
	}
	if len(steps) == 0 {
		return bad("selects the whole payload; name a value below $, such as $.applicant.ssn")
	}
	return steps, nil
}

// CheckPath reports whether p is a JSON path that rules accept.
func CheckPath(p string) error {
	_, err := parsePath(p)
	return err
}

// pathElem is one level of the position in a JSON document.
type pathElem struct {
	key   []byte // object member name (decoded)
	index int    // array index; -1 for object members
}

// matchPath returns the first path rule that selects the value at path,
// or nil.
func (r *Redactor) matchPath(path []pathElem) *pathRule {
	for k := range r.paths {
		pr := &r.paths[k]
		if len(pr.steps) != len(path) {
			continue
		}
		ok := true
		for i, st := range pr.steps {
			e := path[i]
			switch st.kind {
			case stepKey:
				ok = e.index < 0 && string(e.key) == st.key
			case stepIndex:
				ok = e.index == st.index
			}
			if !ok {
				break
			}
		}
		if ok {
			return pr
		}
	}
	return nil
}
