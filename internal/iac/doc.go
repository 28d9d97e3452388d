// Package iac reads infrastructure code — CloudFormation templates (YAML or
// JSON) and Terraform plan JSON (terraform show -json) — and describes each
// SageMaker endpoint configuration it declares as a compliance.Subject, with
// the capture bucket it writes to linked in when the same file declares it.
// It also writes templates that are compliant out of the box (Template).
//
// It is an adapter: it imports compliance for its vocabulary and the YAML
// library, and nothing that does network I/O. What it reads and how
// resources are linked is documented in docs/compliance-iac.md.
package iac
