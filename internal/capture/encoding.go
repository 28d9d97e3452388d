package capture

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// mediaType returns the lower-cased type/subtype of a Content-Type value,
// without parameters: "Text/CSV; charset=utf-8" → "text/csv".
func mediaType(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

// ContentTypes is the set of media types captured as text, by encoding.
// Matching ignores parameters and case, as SageMaker does for
// "text/csv; charset=utf-8" against "text/csv".
type ContentTypes struct {
	csv  map[string]bool
	json map[string]bool
}

// NewContentTypes builds the matcher from the csv_content_types and
// json_content_types lists.
func NewContentTypes(csv, json []string) ContentTypes {
	ct := ContentTypes{csv: map[string]bool{}, json: map[string]bool{}}
	for _, t := range csv {
		ct.csv[mediaType(t)] = true
	}
	for _, t := range json {
		ct.json[mediaType(t)] = true
	}
	return ct
}

// Encoding returns the capture encoding for a body observed with the given
// Content-Type: CSV or JSON when the media type is listed and the body is
// valid UTF-8 (so it can travel as a JSON string unchanged), BASE64 otherwise.
func (ct ContentTypes) Encoding(contentType string, body []byte) string {
	mt := mediaType(contentType)
	var enc string
	switch {
	case ct.csv[mt]:
		enc = EncodingCSV
	case ct.json[mt]:
		enc = EncodingJSON
	default:
		return EncodingBase64
	}
	if !utf8.Valid(body) {
		return EncodingBase64
	}
	return enc
}

// NewPayload builds the captured form of body.
func (ct ContentTypes) NewPayload(mode, contentType string, body []byte) *Payload {
	enc := ct.Encoding(contentType, body)
	p := &Payload{ObservedContentType: contentType, Mode: mode, Encoding: enc}
	if enc == EncodingBase64 {
		p.Data = base64.StdEncoding.EncodeToString(body)
	} else {
		p.Data = string(body)
	}
	return p
}

// truncate returns the first limit bytes of b, backing off so that a UTF-8
// sequence is never cut in half (a cut rune would force BASE64), and whether
// anything was cut.
func truncate(b []byte, limit int) ([]byte, bool) {
	if limit < 0 || len(b) <= limit {
		return b, false
	}
	cut := limit
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(b[cut]) {
		cut = limit
	}
	return b[:cut], true
}
