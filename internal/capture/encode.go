package capture

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// AppendLine appends the capture line of ex (the JSON of ex.Record() and a
// newline) to dst, byte for byte what AppendRecord would write, without
// building the intermediate Record or using reflection. The pipeline's
// writer calls it once per record, so it is kept allocation-free.
func AppendLine(dst []byte, ex *Exchange) []byte { return appendLine(dst, ex, nil) }

// appendLine is AppendLine with the payloads replaced by their redacted
// form when rd is not nil (see appendLineRedacted).
func appendLine(dst []byte, ex *Exchange, rd *redacted) []byte {
	p := ex.Policy
	limit := p.PayloadLimit()
	var inTrunc, outTrunc bool
	dst = append(dst, `{"captureData":{`...)
	if p.Input {
		var in []byte
		in, inTrunc = truncate(ex.Input, limit)
		inTrunc = inTrunc || int64(len(ex.Input)) < ex.InputSize
		if rd != nil {
			in = rd.input
		}
		dst = append(dst, `"endpointInput":`...)
		dst = appendPayload(dst, p.ContentTypes, ModeInput, ex.InputContentType, in)
	}
	if p.Output && ex.HasOutput {
		var out []byte
		out, outTrunc = truncate(ex.Output, limit)
		outTrunc = outTrunc || int64(len(ex.Output)) < ex.OutputSize
		if rd != nil {
			out = rd.output
		}
		if p.Input {
			dst = append(dst, ',')
		}
		dst = append(dst, `"endpointOutput":`...)
		dst = appendPayload(dst, p.ContentTypes, ModeOutput, ex.OutputContentType, out)
	}
	dst = append(dst, `},"eventMetadata":{"eventId":`...)
	dst = appendString(dst, ex.EventID)
	if ex.InferenceID != "" {
		dst = append(dst, `,"inferenceId":`...)
		dst = appendString(dst, ex.InferenceID)
	}
	if ex.CustomAttributes != "" {
		dst = append(dst, `,"customAttributes":`...)
		dst = appendString(dst, ex.CustomAttributes)
	}
	t := ex.Time.UTC()
	dst = append(dst, `,"inferenceTime":"`...)
	dst = t.AppendFormat(dst, InferenceTimeLayout)
	dst = append(dst, `"},"eventVersion":"0"`...)
	if !p.Strict {
		dst = append(dst, `,"glassbox":{"endpoint":`...)
		dst = appendString(dst, p.Endpoint)
		dst = append(dst, `,"variant":`...)
		dst = appendString(dst, ex.Variant)
		dst = append(dst, `,"time":"`...)
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, `","status":`...)
		dst = strconv.AppendInt(dst, int64(ex.Status), 10)
		dst = append(dst, `,"latency_us":`...)
		dst = strconv.AppendInt(dst, ex.Latency.Microseconds(), 10)
		if ex.Method != "" {
			dst = append(dst, `,"method":`...)
			dst = appendString(dst, ex.Method)
		}
		if ex.Path != "" {
			dst = append(dst, `,"path":`...)
			dst = appendString(dst, ex.Path)
		}
		dst = append(dst, `,"input_bytes":`...)
		dst = strconv.AppendInt(dst, ex.InputSize, 10)
		dst = append(dst, `,"output_bytes":`...)
		dst = strconv.AppendInt(dst, ex.OutputSize, 10)
		if inTrunc {
			dst = append(dst, `,"input_truncated":true`...)
		}
		if outTrunc {
			dst = append(dst, `,"output_truncated":true`...)
		}
		if ex.Error != "" {
			dst = append(dst, `,"error":`...)
			dst = appendString(dst, ex.Error)
		}
		if rd != nil && len(rd.fired) > 0 {
			dst = append(dst, `,"redactions":[`...)
			for i, id := range rd.fired {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendString(dst, id)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}', '\n')
}

func appendPayload(dst []byte, ct ContentTypes, mode, contentType string, body []byte) []byte {
	enc := ct.Encoding(contentType, body)
	dst = append(dst, `{"observedContentType":`...)
	dst = appendString(dst, contentType)
	dst = append(dst, `,"mode":"`...)
	dst = append(dst, mode...)
	dst = append(dst, `","data":`...)
	if enc == EncodingBase64 {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, body)
		dst = append(dst, '"')
	} else {
		// The body is only read while appending: view it as a string
		// rather than copying it.
		dst = appendString(dst, unsafe.String(unsafe.SliceData(body), len(body)))
	}
	dst = append(dst, `,"encoding":"`...)
	dst = append(dst, enc...)
	return append(dst, `"}`...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does
// with HTML escaping off: short escapes for \" \\ \b \f \n \r \t, \u00XX for
// other control bytes, \ufffd for invalid UTF-8, and \u2028 / \u2029.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
