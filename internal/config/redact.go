package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Redaction actions, the values allowed in RedactRule.Action.
const (
	RedactMask = "mask" // replace with [REDACTED:<label>]
	RedactDrop = "drop" // remove the text, empty the CSV field, remove the JSON key
	RedactHash = "hash" // replace with [HMAC:<label>:<hex>], keyed, stable per value
)

// RedactDetectors returns the built-in detectors a RedactRule may name. The
// list mirrors internal/redact's (a test in cmd/glassbox keeps them equal);
// config imports nothing from the project.
func RedactDetectors() []string {
	return []string{"email", "phone", "payment_card", "us_ssn", "iban", "ipv4", "ipv6"}
}

// maxRedactRules bounds capture.redact.
const maxRedactRules = 64

// RedactRule is one entry of capture.redact: exactly one of Detector,
// JSONPath and CSVColumn, and an Action. For example
// {detector: email, action: hash}, {json_path: $.applicant.ssn, action: drop},
// {csv_column: 3, action: mask}.
type RedactRule struct {
	// Detector names a built-in detector: email, phone, payment_card,
	// us_ssn, iban, ipv4 or ipv6. Each detector may appear once per
	// endpoint. It applies to CSV fields, JSON keys, strings and numbers,
	// and any other payload scanned as text.
	Detector string `yaml:"detector,omitempty"`
	// JSONPath selects one value of JSON payloads: "$" then .name,
	// ['name'], [index], [*] or .* steps, such as $.applicant.ssn.
	JSONPath string `yaml:"json_path,omitempty"`
	// CSVColumn selects a field in every row of CSV payloads: a 0-based
	// index (3) or a column name, found in the payload's first row.
	CSVColumn string `yaml:"csv_column,omitempty"`
	// Action is mask, drop or hash. Required.
	Action string `yaml:"action,omitempty"`
}

func validateRedact(ps *problems, path string, rules []RedactRule) {
	if len(rules) > maxRedactRules {
		ps.add(path, "at most %d rules are allowed, got %d", maxRedactRules, len(rules))
	}
	detectors := map[string]int{}
	for i, r := range rules {
		p := fmt.Sprintf("%s[%d]", path, i)
		var set []string
		if r.Detector != "" {
			set = append(set, "detector")
		}
		if r.JSONPath != "" {
			set = append(set, "json_path")
		}
		if r.CSVColumn != "" {
			set = append(set, "csv_column")
		}
		switch len(set) {
		case 0:
			ps.add(p, "want one of detector, json_path or csv_column")
		case 1:
		default:
			ps.add(p, "want only one of detector, json_path or csv_column, got %s", strings.Join(set, " and "))
		}
		switch {
		case r.Action == "":
			ps.add(p+".action", "is required: mask, drop or hash")
		default:
			oneOf(ps, p+".action", r.Action, RedactMask, RedactDrop, RedactHash)
		}
		if r.Detector != "" {
			switch j, dup := detectors[r.Detector]; {
			case !slices.Contains(RedactDetectors(), r.Detector):
				ps.add(p+".detector", "unknown detector %s: want one of %s", quote(r.Detector), strings.Join(RedactDetectors(), ", "))
			case dup:
				ps.add(p+".detector", "detector %s is already used by %s[%d]", quote(r.Detector), path, j)
			default:
				detectors[r.Detector] = i
			}
		}
		if r.JSONPath != "" {
			if err := checkJSONPath(r.JSONPath); err != nil {
				ps.add(p+".json_path", "%v", err)
			}
		}
		if r.CSVColumn != "" {
			checkCSVColumn(ps, p+".csv_column", r.CSVColumn)
		}
	}
}

func checkCSVColumn(ps *problems, path, col string) {
	if n, err := strconv.Atoi(col); err == nil || strings.TrimLeft(col, "+-0123456789") == "" {
		if err != nil || n < 0 || n > 1<<20 {
			ps.add(path, "invalid column index %s: want a 0-based index (0 to %d) or a column name", quote(col), 1<<20)
		}
		return
	}
	if strings.ContainsAny(col, "\",\r\n") {
		ps.add(path, "invalid column name %s: it may not hold a quote, comma or line break", quote(col))
	}
}

// checkJSONPath accepts the JSONPath subset that redaction supports: "$"
// then at least one of .name (letters, digits, _ and -), ['name'] or
// ["name"], [index], [*] and .*.
func checkJSONPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("invalid JSON path %s: %s", quote(p), why) }
	if !strings.HasPrefix(p, "$") {
		return bad("must start with $, as in $.applicant.ssn")
	}
	s := p[1:]
	if s == "" {
		return bad("selects the whole payload; name a value below $, such as $.applicant.ssn")
	}
	for steps := 0; s != ""; steps++ {
		if steps == 64 {
			return bad("more than 64 steps")
		}
		switch s[0] {
		case '.':
			s = s[1:]
			if strings.HasPrefix(s, "*") {
				s = s[1:]
				continue
			}
			n := 0
			for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9' || s[n] == '_' || s[n] == '-') {
				n++
			}
			if n == 0 {
				return bad("want a name after '.' (letters, digits, _ and -; use ['name'] for others; .. is not supported)")
			}
			s = s[n:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return bad("unclosed [")
			}
			in := s[1:end]
			n, numErr := strconv.ParseUint(in, 10, 31)
			if numErr == nil && n > 1<<30 {
				numErr = strconv.ErrRange
			}
			quoted := len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0] &&
				!strings.ContainsAny(in[1:len(in)-1], "\\"+in[:1])
			if in != "*" && !quoted && (numErr != nil || strings.HasPrefix(in, "+")) {
				return bad(fmt.Sprintf("unsupported step [%s]: want [index], [*] or ['name']", in))
			}
			s = s[end+1:]
		default:
			return bad(fmt.Sprintf("unexpected %q: want .name, ['name'], [index] or [*]", s[0]))
		}
	}
	return nil
}
