// Package redact finds personal data in captured payloads and masks, drops
// or hashes it before anything is written to disk.
//
// A Redactor is built once from a list of Rules (New) and applied to each
// payload (Apply) as CSV, JSON or free text. Three kinds of rule exist:
//
//   - a detector (email, phone, payment_card, us_ssn, iban, ipv4, ipv6)
//     finds values wherever they appear: in CSV fields, in JSON string values,
//     numbers and keys, and anywhere in free text;
//   - a JSON path ($.applicant.ssn) takes the whole value at that path;
//   - a CSV column (by 0-based index, or by name through a header row) takes
//     the whole field in every row.
//
// Detectors are hand-written scanners rather than regular expressions: each
// one pre-filters on a byte it needs (no '@', no e-mail), checks the shape,
// then validates what can be validated (Luhn for cards, mod-97 for IBANs, the
// SSA's unassigned ranges for SSNs, net/netip for IPv6). docs/redaction.md
// lists what each detector matches and its measured precision and recall.
//
// The package is pure: no I/O, no global mutable state, no project imports
// (rank 0 of the import ladder). A Redactor is safe for concurrent use.
package redact
