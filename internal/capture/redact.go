package capture

// Redactor removes personal data from a captured payload before its record
// is written. The spool's writer calls it once per payload, on the bytes the
// record will hold (after truncation to max_payload_bytes), with the
// payload's capture encoding: EncodingCSV, EncodingJSON, or EncodingBase64
// for anything else (the raw bytes, scanned as text, then base64-encoded).
//
// It returns the payload to write and the ids of the rules that fired, which
// must never contain a value from the payload. An error means the payload
// could not be redacted: the record is then not written at all (counted as
// DropRedactionFailed), so clear values never reach the spool.
//
// The interface is declared here, where it is consumed, so capture does
// not depend on how redaction works; cmd/glassbox adapts internal/redact's
// Redactor to it. Implementations must be safe for concurrent use.
type Redactor interface {
	Redact(data []byte, encoding string) (out []byte, fired []string, err error)
}

// redacted holds an exchange's payloads after redaction.
type redacted struct {
	input, output []byte
	fired         []string // rule ids, input's first, without repeats
}

// redactExchange applies the policy's redactor to the payloads the record
// will hold. It returns nil when the policy has no redactor.
func redactExchange(ex *Exchange) (*redacted, error) {
	p := ex.Policy
	if p.Redactor == nil {
		return nil, nil
	}
	rd := &redacted{}
	limit := p.PayloadLimit()
	one := func(contentType string, body []byte) ([]byte, error) {
		body, _ = truncate(body, limit)
		out, fired, err := p.Redactor.Redact(body, p.ContentTypes.Encoding(contentType, body))
		if err != nil {
			return nil, err
		}
		for _, f := range fired {
			if !contains(rd.fired, f) {
				rd.fired = append(rd.fired, f)
			}
		}
		return out, nil
	}
	var err error
	if p.Input {
		if rd.input, err = one(ex.InputContentType, ex.Input); err != nil {
			return nil, err
		}
	}
	if p.Output && ex.HasOutput {
		if rd.output, err = one(ex.OutputContentType, ex.Output); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// appendLineRedacted is AppendLine for the spool's writer: it redacts the
// payloads first when the policy has a redactor, and notes the rules that
// fired in the glassbox extra ("redactions"; left out in strict mode along
// with the rest of the extra).
func appendLineRedacted(dst []byte, ex *Exchange) ([]byte, error) {
	rd, err := redactExchange(ex)
	if err != nil {
		return dst, err
	}
	return appendLine(dst, ex, rd), nil
}

// DropRedactionFailed is the drop reason of records whose payloads the
// policy's Redactor could not redact; such a record is never written.
const DropRedactionFailed = "redaction_failed"
