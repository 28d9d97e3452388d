package iac

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Template kinds and formats.
const (
	KindCaptureBucket  = "capture-bucket"
	KindEndpointConfig = "sagemaker-endpoint-config"

	FormatCloudFormation = "cloudformation"
	FormatTerraform      = "terraform"
)

// TemplateOptions shape a template. Zero values take the defaults below.
type TemplateOptions struct {
	Name          string            // resource name prefix; default "glassbox"
	Tier          string            // the "tier" tag; default "default"
	MinSampling   float64           // InitialSamplingPercentage; default 100
	Tags          map[string]string // extra tags, added to owner, cost-center and tier
	RetentionDays int               // lifecycle expiration; default 90
}

func (o TemplateOptions) withDefaults() TemplateOptions {
	if o.Name == "" {
		o.Name = "glassbox"
	}
	if o.Tier == "" {
		o.Tier = "default"
	}
	if o.MinSampling <= 0 {
		o.MinSampling = 100
	}
	if o.RetentionDays <= 0 {
		o.RetentionDays = 90
	}
	return o
}

// Template writes a template of kind in format that passes the rules
// glassbox audit iac checks: a capture bucket encrypted with a
// customer-managed, rotated KMS key declared alongside it, public access
// fully blocked, objects expiring after RetentionDays, versioning on and
// the required tags (owner and cost-center as parameters or variables);
// sagemaker-endpoint-config adds an endpoint configuration capturing
// input and output at MinSampling percent with that key.
func Template(kind, format string, o TemplateOptions) ([]byte, error) {
	if kind != KindCaptureBucket && kind != KindEndpointConfig {
		return nil, fmt.Errorf("unknown template kind %q: want %s or %s", kind, KindCaptureBucket, KindEndpointConfig)
	}
	o = o.withDefaults()
	if o.MinSampling > 100 {
		return nil, fmt.Errorf("sampling %g%% is above 100", o.MinSampling)
	}
	if !validName(o.Name) {
		return nil, fmt.Errorf("name %q: want 1-40 lowercase letters, digits and hyphens", o.Name)
	}
	switch format {
	case FormatCloudFormation:
		return cfnTemplate(kind, o), nil
	case FormatTerraform:
		return hclTemplate(kind, o), nil
	}
	return nil, fmt.Errorf("unknown template format %q: want %s or %s", format, FormatCloudFormation, FormatTerraform)
}

func validName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// extraTags returns opts.Tags without the keys the template sets itself.
func extraTags(o TemplateOptions) []string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(o.Tags)) {
		if k != "owner" && k != "cost-center" && k != "tier" {
			keys = append(keys, k)
		}
	}
	return keys
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func cfnTemplate(kind string, o TemplateOptions) []byte {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	tags := func(indent string) {
		w("%sTags:\n", indent)
		w("%s  - {Key: owner, Value: !Ref Owner}\n", indent)
		w("%s  - {Key: cost-center, Value: !Ref CostCenter}\n", indent)
		w("%s  - {Key: tier, Value: %s}\n", indent, strconv.Quote(o.Tier))
		for _, k := range extraTags(o) {
			w("%s  - {Key: %s, Value: %s}\n", indent, strconv.Quote(k), strconv.Quote(o.Tags[k]))
		}
	}
	w("# Written by glassbox iac template --kind %s: passes glassbox audit iac.\n", kind)
	w("AWSTemplateFormatVersion: \"2010-09-09\"\n")
	w("Description: Glassbox %s %s (tier %s)\n", kind, o.Name, o.Tier)
	w("Parameters:\n")
	w("  Owner:\n    Type: String\n    Description: Value of the required owner tag.\n")
	w("  CostCenter:\n    Type: String\n    Description: Value of the required cost-center tag.\n")
	if kind == KindEndpointConfig {
		w("  ModelName:\n    Type: String\n    Description: The SageMaker model to serve.\n")
		w("  InstanceType:\n    Type: String\n    Default: ml.m5.large\n")
	}
	w("Resources:\n")
	w(`  CaptureKey:
    Type: AWS::KMS::Key
    Properties:
      Description: Customer-managed key for %[1]s captured data
      EnableKeyRotation: true
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: AccountAdministers
            Effect: Allow
            Principal: {AWS: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            Action: kms:*
            Resource: "*"
`, o.Name)
	tags("      ")
	w(`  CaptureKeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/%[1]s-capture
      TargetKeyId: !Ref CaptureKey
  CaptureBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "%[1]s-capture-${AWS::AccountId}-${AWS::Region}"
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
              KMSMasterKeyID: !GetAtt CaptureKey.Arn
            BucketKeyEnabled: true
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      LifecycleConfiguration:
        Rules:
          - Id: expire-captured-data
            Status: Enabled
            ExpirationInDays: %[2]d
            NoncurrentVersionExpiration: {NoncurrentDays: 1}
      VersioningConfiguration:
        Status: Enabled
`, o.Name, o.RetentionDays)
	tags("      ")
	if kind == KindEndpointConfig {
		w(`  EndpointConfig:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      EndpointConfigName: %[1]s
      ProductionVariants:
        - VariantName: primary
          ModelName: !Ref ModelName
          InstanceType: !Ref InstanceType
          InitialInstanceCount: 1
      DataCaptureConfig:
        EnableCapture: true
        InitialSamplingPercentage: %[2]s
        KmsKeyId: !GetAtt CaptureKey.Arn
        DestinationS3Uri: !Sub "s3://${CaptureBucket}/capture/%[1]s"
        CaptureOptions:
          - CaptureMode: Input
          - CaptureMode: Output
        CaptureContentTypeHeader:
          CsvContentTypes: [text/csv]
          JsonContentTypes: [application/json]
`, o.Name, num(o.MinSampling))
		tags("      ")
	}
	w("Outputs:\n  CaptureBucketName:\n    Value: !Ref CaptureBucket\n  CaptureKeyArn:\n    Value: !GetAtt CaptureKey.Arn\n")
	return []byte(b.String())
}

func hclTemplate(kind string, o TemplateOptions) []byte {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Written by glassbox iac template --kind %s.\n", kind)
	w("# glassbox audit iac reads plan JSON: run terraform plan -out plan && terraform show -json plan > plan.json.\n\n")
	w(`variable "owner" {
  type        = string
  description = "Value of the required owner tag."
}

variable "cost_center" {
  type        = string
  description = "Value of the required cost-center tag."
}

`)
	if kind == KindEndpointConfig {
		w("variable \"model_name\" {\n  type        = string\n  description = \"The SageMaker model to serve.\"\n}\n\n")
		w("variable \"instance_type\" {\n  type    = string\n  default = \"ml.m5.large\"\n}\n\n")
	}
	w("locals {\n  tags = {\n    owner         = var.owner\n    \"cost-center\" = var.cost_center\n    tier          = %s\n", strconv.Quote(o.Tier))
	for _, k := range extraTags(o) {
		w("    %s = %s\n", strconv.Quote(k), strconv.Quote(o.Tags[k]))
	}
	w("  }\n}\n\n")
	w(`resource "aws_kms_key" "capture" {
  description         = "Customer-managed key for %[1]s captured data"
  enable_key_rotation = true
  tags                = local.tags
}

resource "aws_kms_alias" "capture" {
  name          = "alias/%[1]s-capture"
  target_key_id = aws_kms_key.capture.key_id
}

resource "aws_s3_bucket" "capture" {
  bucket_prefix = "%[1]s-capture-"
  tags          = local.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "capture" {
  bucket = aws_s3_bucket.capture.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.capture.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "capture" {
  bucket                  = aws_s3_bucket.capture.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "capture" {
  bucket = aws_s3_bucket.capture.id
  rule {
    id     = "expire-captured-data"
    status = "Enabled"
    filter {}
    expiration {
      days = %[2]d
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }
}

resource "aws_s3_bucket_versioning" "capture" {
  bucket = aws_s3_bucket.capture.id
  versioning_configuration {
    status = "Enabled"
  }
}
`, o.Name, o.RetentionDays)
	if kind == KindEndpointConfig {
		w(`
resource "aws_sagemaker_endpoint_configuration" "this" {
  name = %[1]q
  production_variants {
    variant_name           = "primary"
    model_name             = var.model_name
    instance_type          = var.instance_type
    initial_instance_count = 1
  }
  data_capture_config {
    enable_capture              = true
    initial_sampling_percentage = %[2]s
    kms_key_id                  = aws_kms_key.capture.arn
    destination_s3_uri          = "s3://${aws_s3_bucket.capture.bucket}/capture/%[1]s"
    capture_options {
      capture_mode = "Input"
    }
    capture_options {
      capture_mode = "Output"
    }
    capture_content_type_header {
      csv_content_types  = ["text/csv"]
      json_content_types = ["application/json"]
    }
  }
  tags = local.tags
}
`, o.Name, num(o.MinSampling))
	}
	return []byte(b.String())
}

// planJSON renders the resources of the Terraform template as terraform
// show -json would show a plan of them: values known at plan time in
// planned_values, computed ones in after_unknown, and the references of
// the configuration. It exists so tests can put the HCL template's
// resource model through the plan reader; it is not a Terraform run.
func planJSON(kind string, o TemplateOptions, owner, costCenter string) []byte {
	o = o.withDefaults()
	tags := map[string]any{"owner": owner, "cost-center": costCenter, "tier": o.Tier}
	for _, k := range extraTags(o) {
		tags[k] = o.Tags[k]
	}
	type res = map[string]any
	ref := func(a ...string) res { return res{"references": a} }
	bucketRef := res{"bucket": ref("aws_s3_bucket.capture.id", "aws_s3_bucket.capture")}
	resources := []res{
		{"address": "aws_kms_key.capture", "type": "aws_kms_key", "values": res{"enable_key_rotation": true, "tags": tags}},
		{"address": "aws_s3_bucket.capture", "type": "aws_s3_bucket", "values": res{"bucket_prefix": o.Name + "-capture-", "tags": tags}},
		{"address": "aws_s3_bucket_server_side_encryption_configuration.capture", "type": "aws_s3_bucket_server_side_encryption_configuration",
			"values": res{"rule": []res{{"apply_server_side_encryption_by_default": []res{{"sse_algorithm": "aws:kms"}}, "bucket_key_enabled": true}}}},
		{"address": "aws_s3_bucket_public_access_block.capture", "type": "aws_s3_bucket_public_access_block",
			"values": res{"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}},
		{"address": "aws_s3_bucket_lifecycle_configuration.capture", "type": "aws_s3_bucket_lifecycle_configuration",
			"values": res{"rule": []res{{"id": "expire-captured-data", "status": "Enabled", "expiration": []res{{"days": o.RetentionDays}}}}}},
		{"address": "aws_s3_bucket_versioning.capture", "type": "aws_s3_bucket_versioning",
			"values": res{"versioning_configuration": []res{{"status": "Enabled"}}}},
	}
	changes := []res{
		{"address": "aws_s3_bucket.capture", "change": res{"after_unknown": res{"bucket": true, "id": true}}},
		{"address": "aws_s3_bucket_server_side_encryption_configuration.capture", "change": res{"after_unknown": res{"bucket": true,
			"rule": []res{{"apply_server_side_encryption_by_default": []res{{"kms_master_key_id": true}}}}}}},
	}
	config := []res{
		{"address": "aws_s3_bucket_server_side_encryption_configuration.capture", "expressions": res{"bucket": bucketRef["bucket"],
			"rule": []res{{"apply_server_side_encryption_by_default": []res{{"kms_master_key_id": ref("aws_kms_key.capture.arn", "aws_kms_key.capture")}}}}}},
		{"address": "aws_s3_bucket_public_access_block.capture", "expressions": bucketRef},
		{"address": "aws_s3_bucket_lifecycle_configuration.capture", "expressions": bucketRef},
		{"address": "aws_s3_bucket_versioning.capture", "expressions": bucketRef},
	}
	if kind == KindEndpointConfig {
		resources = append(resources, res{"address": "aws_sagemaker_endpoint_configuration.this", "type": "aws_sagemaker_endpoint_configuration",
			"values": res{"name": o.Name, "tags": tags, "data_capture_config": []res{{"enable_capture": true, "initial_sampling_percentage": o.MinSampling,
				"capture_options": []res{{"capture_mode": "Input"}, {"capture_mode": "Output"}}}}}})
		changes = append(changes, res{"address": "aws_sagemaker_endpoint_configuration.this", "change": res{"after_unknown": res{
			"data_capture_config": []res{{"kms_key_id": true, "destination_s3_uri": true}}}}})
		config = append(config, res{"address": "aws_sagemaker_endpoint_configuration.this", "expressions": res{"data_capture_config": []res{{
			"kms_key_id":         ref("aws_kms_key.capture.arn", "aws_kms_key.capture"),
			"destination_s3_uri": ref("aws_s3_bucket.capture.bucket", "aws_s3_bucket.capture")}}}})
	}
	for _, r := range resources {
		r["mode"] = "managed"
	}
	out, _ := json.MarshalIndent(res{
		"format_version":   "1.2",
		"planned_values":   res{"root_module": res{"resources": resources}},
		"resource_changes": changes,
		"configuration":    res{"root_module": res{"resources": config}},
	}, "", "  ")
	return out
}
