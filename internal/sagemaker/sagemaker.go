// Package sagemaker reads live Amazon SageMaker accounts for the compliance
// audit: it lists every real-time endpoint in the given regions, reads its
// endpoint configuration's DataCaptureConfig and the live
// DataCaptureConfigSummary, its tags and monitoring schedules, checks each
// capture destination bucket once (default encryption, public access,
// lifecycle, versioning and object lock), and describes every endpoint as a
// compliance.Subject.
//
// It only reads (the IAM policy it needs is in docs/compliance-sagemaker.md)
// and it degrades per check: a call that fails (AccessDenied, an API the
// emulator lacks, a server error) leaves that fact Unknown with a reason in
// Subject.Unchecked, and the run goes on. Only a region whose endpoints
// cannot be listed at all is an error.
//
// This package is an adapter (rank 3): it imports the standard library, the
// AWS SDK and the compliance domain package only.
package sagemaker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sm "github.com/aws/aws-sdk-go-v2/service/sagemaker"
	smtypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/smithy-go"

	"github.com/glassbox-dev/glassbox/internal/compliance"
)

// Defaults applied by Audit.
const (
	// DefaultRegion is audited when Options.Regions is empty and the SDK's
	// configuration chain names no region.
	DefaultRegion = "us-east-1"
	// DefaultConcurrency is the number of endpoints read at once.
	DefaultConcurrency = 4
	// DefaultTier is the Subject.Tier of an endpoint without a "tier" tag.
	DefaultTier = "default"
	// TierTag is the tag whose value is the endpoint's tier.
	TierTag = "tier"
)

// Names of facts in Subject.Unchecked: the compliance rules' names, plus
// FactImmutable, which no rule reads yet.
const (
	FactCaptureEnabled    = compliance.FactCaptureEnabled
	FactCaptureSampling   = compliance.FactSampling
	FactCaptureEncryption = compliance.FactEncryption
	FactDestinationPublic = compliance.FactDestinationPublic
	FactRetention         = compliance.FactRetention
	FactImmutable         = "capture.immutable"
	FactTags              = compliance.FactTags
	FactMonitored         = compliance.FactMonitored
	FactAlerting          = compliance.FactAlerting
	FactModelApproved     = compliance.FactModelApproved
)

// awsManagedS3Key is the alias of the AWS-managed KMS key for S3. Without
// kms:DescribeKey the reader cannot ask KMS who manages a key, so any other
// key id, ARN or alias counts as customer-managed (see keyEncryption).
const awsManagedS3Key = "alias/aws/s3"

// Options configures Audit. The zero value audits the SDK's default region
// with the default credential chain.
type Options struct {
	// Regions to audit. Empty means the region of the SDK's configuration
	// chain (AWS_REGION, the profile), else DefaultRegion.
	Regions []string
	// Profile selects a shared config profile; empty means AWS_PROFILE or
	// "default".
	Profile string
	// Endpoint overrides the SageMaker and S3 endpoint URL (moto, tests).
	// Empty means AWS_ENDPOINT_URL* or the AWS endpoints of the region.
	Endpoint string
	// PathStyle addresses buckets in the URL path; needed with most custom
	// Endpoints.
	PathStyle bool
	// Concurrency is the number of endpoints read at once; 0 means
	// DefaultConcurrency.
	Concurrency int
	// PageSize is the MaxResults of each ListEndpoints page; 0 means the
	// service's default.
	PageSize int32
}

// Stats counts what an Audit did.
type Stats struct {
	Regions   int
	Endpoints int
	Buckets   int // distinct capture destination buckets checked
	// Calls counts API calls (pages and failed calls included, SDK retries
	// not) by "service:Operation".
	Calls map[string]int
}

// TotalCalls is the sum of Calls.
func (s Stats) TotalCalls() int {
	n := 0
	for _, c := range s.Calls {
		n += c
	}
	return n
}

// CallsPerEndpoint is TotalCalls divided by Endpoints (0 without endpoints).
func (s Stats) CallsPerEndpoint() float64 {
	if s.Endpoints == 0 {
		return 0
	}
	return float64(s.TotalCalls()) / float64(s.Endpoints)
}

// Audit reads every endpoint in opts.Regions and returns one Subject per
// endpoint, sorted by region and name. It returns an error only when the
// configuration cannot be loaded or a region's endpoints cannot be listed;
// subjects of the other regions are still returned with that error.
func Audit(ctx context.Context, opts Options) ([]compliance.Subject, Stats, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	var loadOpts []func(*config.LoadOptions) error
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, Stats{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	regions := opts.Regions
	if len(regions) == 0 {
		r := cfg.Region
		if r == "" {
			r = DefaultRegion
		}
		regions = []string{r}
	}
	c := &counter{calls: map[string]int{}}
	var (
		subjects []compliance.Subject
		errs     []error
		stats    = Stats{Regions: len(regions)}
	)
	for _, region := range regions {
		a := newAuditor(cfg, region, opts, c)
		subs, err := a.run(ctx)
		subjects = append(subjects, subs...)
		stats.Buckets += len(a.buckets)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", region, err))
		}
	}
	sort.SliceStable(subjects, func(i, j int) bool {
		if subjects[i].Region != subjects[j].Region {
			return subjects[i].Region < subjects[j].Region
		}
		return subjects[i].Name < subjects[j].Name
	})
	stats.Endpoints = len(subjects)
	stats.Calls = c.snapshot()
	return subjects, stats, errors.Join(errs...)
}

// counter counts API calls from concurrent workers.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) add(api string) {
	c.mu.Lock()
	c.calls[api]++
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		m[k] = v
	}
	return m
}

// auditor reads one region.
type auditor struct {
	region string
	sm     *sm.Client
	s3     *s3.Client
	conc   int
	page   int32
	calls  *counter

	mu      sync.Mutex
	buckets map[string]*bucketCheck // by bucket name; each checked once
	// noSchedules is set once ListMonitoringSchedules proved unavailable in
	// this region (moto: HTTP 500), so it is not called for every endpoint.
	noSchedules string
	// schedMu serialises the first ListMonitoringSchedules (schedProbed
	// false) so concurrent workers wait for its verdict instead of all
	// calling an unavailable API.
	schedMu     sync.Mutex
	schedProbed bool
}

func newAuditor(cfg aws.Config, region string, opts Options, c *counter) *auditor {
	cfg = cfg.Copy()
	cfg.Region = region
	smc := sm.NewFromConfig(cfg, func(o *sm.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &auditor{
		region:  region,
		sm:      smc,
		s3:      s3c,
		conc:    opts.Concurrency,
		page:    opts.PageSize,
		calls:   c,
		buckets: map[string]*bucketCheck{},
	}
}

// run lists the region's endpoints and reads them with a.conc workers.
func (a *auditor) run(ctx context.Context) ([]compliance.Subject, error) {
	var eps []smtypes.EndpointSummary
	in := &sm.ListEndpointsInput{}
	if a.page > 0 {
		in.MaxResults = aws.Int32(a.page)
	}
	p := sm.NewListEndpointsPaginator(a.sm, in)
	for p.HasMorePages() {
		a.calls.add("sagemaker:ListEndpoints")
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list endpoints: %w", err)
		}
		eps = append(eps, page.Endpoints...)
	}
	out := make([]compliance.Subject, len(eps))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(a.conc, len(eps)) {
		wg.Go(func() {
			for i := range work {
				out[i] = a.endpoint(ctx, eps[i])
			}
		})
	}
	for i := range eps {
		work <- i
	}
	close(work)
	wg.Wait()
	return out, ctx.Err()
}

// endpoint describes one endpoint as a Subject.
func (a *auditor) endpoint(ctx context.Context, ep smtypes.EndpointSummary) compliance.Subject {
	name := aws.ToString(ep.EndpointName)
	arn := aws.ToString(ep.EndpointArn)
	s := compliance.Subject{
		Source:    compliance.SourceSageMaker,
		Name:      name,
		Resource:  arn,
		Region:    a.region,
		Account:   arnAccount(arn),
		Tier:      DefaultTier,
		Unchecked: map[string]string{},
	}
	s.Alerting = compliance.Unknown
	s.Unchecked[FactAlerting] = "not checked: SageMaker Model Monitor alerts are CloudWatch alarms, outside this reader"
	s.ModelApproved = compliance.Unknown
	s.Unchecked[FactModelApproved] = "not checked: no model registry is linked to SageMaker endpoints"

	a.readCapture(ctx, name, &s)
	a.readTags(ctx, arn, &s)
	a.readSchedules(ctx, name, &s)
	return s
}

// readCapture fills s.Capture from DescribeEndpoint (the live
// DataCaptureConfigSummary), DescribeEndpointConfig (the configured
// DataCaptureConfig) and the destination bucket. A summary field that is
// set wins over the configured one; fields it lacks (moto returns only
// EnableCapture and DestinationS3Uri) come from the endpoint config.
func (a *auditor) readCapture(ctx context.Context, name string, s *compliance.Subject) {
	capFacts := []string{FactCaptureEnabled, FactCaptureSampling, FactCaptureEncryption, FactDestinationPublic, FactRetention, FactImmutable}
	unknown := func(reason string) {
		for _, f := range capFacts {
			if _, ok := s.Unchecked[f]; !ok {
				s.Unchecked[f] = reason
			}
		}
	}
	a.calls.add("sagemaker:DescribeEndpoint")
	de, err := a.sm.DescribeEndpoint(ctx, &sm.DescribeEndpointInput{EndpointName: aws.String(name)})
	if err != nil {
		unknown(couldNot("sagemaker:DescribeEndpoint", err))
		return
	}
	if arn := aws.ToString(de.EndpointArn); arn != "" && s.Resource == "" {
		s.Resource, s.Account = arn, arnAccount(arn)
	}
	var cfgCapture *smtypes.DataCaptureConfig
	cfgRead := false
	if cn := aws.ToString(de.EndpointConfigName); cn != "" {
		a.calls.add("sagemaker:DescribeEndpointConfig")
		dc, err := a.sm.DescribeEndpointConfig(ctx, &sm.DescribeEndpointConfigInput{EndpointConfigName: aws.String(cn)})
		if err != nil {
			if de.DataCaptureConfig == nil { // nothing else to go on
				unknown(couldNot("sagemaker:DescribeEndpointConfig", err))
				return
			}
			s.Unchecked[FactCaptureSampling] = couldNot("sagemaker:DescribeEndpointConfig", err)
		} else {
			cfgCapture, cfgRead = dc.DataCaptureConfig, true
		}
	}
	sum := de.DataCaptureConfig // shape DataCaptureConfigSummary
	// moto answers an empty object for an endpoint without capture; the
	// real API requires the destination, so an empty shape means absent.
	if sum != nil && sum.EnableCapture == nil && sum.DestinationS3Uri == nil {
		sum = nil
	}
	if cfgCapture != nil && cfgCapture.DestinationS3Uri == nil && cfgCapture.InitialSamplingPercentage == nil {
		cfgCapture = nil
	}
	c := &s.Capture

	// Enabled: the summary's EnableCapture and CaptureStatus ("Stopped"
	// means capture is not functional), else the config's EnableCapture,
	// which the API defaults to true when a DataCaptureConfig is given.
	switch {
	case sum != nil && sum.EnableCapture != nil:
		c.Enabled = compliance.FactOf(*sum.EnableCapture && sum.CaptureStatus != smtypes.CaptureStatusStopped)
	case cfgCapture != nil:
		c.Enabled = compliance.FactOf(cfgCapture.EnableCapture == nil || *cfgCapture.EnableCapture)
	case cfgRead: // a config without DataCaptureConfig
		c.Enabled = compliance.No
	default:
		c.Enabled = compliance.Unknown
		s.Unchecked[FactCaptureEnabled] = "could not check: no endpoint configuration name in DescribeEndpoint"
	}
	switch {
	case sum != nil && sum.CurrentSamplingPercentage != nil:
		c.SamplingPercent = float64(*sum.CurrentSamplingPercentage)
	case cfgCapture != nil && cfgCapture.InitialSamplingPercentage != nil:
		c.SamplingPercent = float64(*cfgCapture.InitialSamplingPercentage)
	}
	if sum != nil && aws.ToString(sum.DestinationS3Uri) != "" {
		c.Destination = aws.ToString(sum.DestinationS3Uri)
	} else if cfgCapture != nil {
		c.Destination = aws.ToString(cfgCapture.DestinationS3Uri)
	}
	if sum != nil && aws.ToString(sum.KmsKeyId) != "" {
		c.KMSKeyID = aws.ToString(sum.KmsKeyId)
	} else if cfgCapture != nil {
		c.KMSKeyID = aws.ToString(cfgCapture.KmsKeyId)
	}
	if c.Enabled != compliance.Unknown {
		delete(s.Unchecked, FactCaptureEnabled)
	}

	if c.Destination == "" {
		// Nothing captured, nothing stored: bucket facts stay unset.
		return
	}
	bucket, prefix, ok := parseS3URI(c.Destination)
	if !ok {
		unknown("could not check: destination " + c.Destination + " is not an s3:// or https:// URI")
		return
	}
	b := a.bucket(ctx, bucket)
	b.apply(s, prefix)
}

// readTags fills s.Tags and s.Tier from ListTags (all pages).
func (a *auditor) readTags(ctx context.Context, arn string, s *compliance.Subject) {
	if arn == "" {
		s.Unchecked[FactTags] = "could not check: sagemaker:ListTags: the endpoint has no ARN"
		return
	}
	tags := map[string]string{}
	p := sm.NewListTagsPaginator(a.sm, &sm.ListTagsInput{ResourceArn: aws.String(arn)})
	for p.HasMorePages() {
		a.calls.add("sagemaker:ListTags")
		page, err := p.NextPage(ctx)
		if err != nil {
			s.Unchecked[FactTags] = couldNot("sagemaker:ListTags", err)
			return
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	s.Tags = tags
	if t := tags[TierTag]; t != "" {
		s.Tier = t
	}
}

// readSchedules sets s.Monitored: Yes when a monitoring schedule for the
// endpoint is Scheduled or Pending. ListMonitoringSchedules does not say
// whether a schedule has a baseline (that needs DescribeMonitoringSchedule
// per schedule), so a schedule counts as a monitor.
func (a *auditor) readSchedules(ctx context.Context, name string, s *compliance.Subject) {
	a.schedMu.Lock()
	if a.schedProbed {
		a.schedMu.Unlock()
	} else {
		// The first caller probes while holding schedMu; the others
		// then see noSchedules if the API proved unavailable.
		defer func() {
			a.schedProbed = true
			a.schedMu.Unlock()
		}()
	}
	a.mu.Lock()
	na := a.noSchedules
	a.mu.Unlock()
	if na != "" {
		s.Monitored = compliance.Unknown
		s.Unchecked[FactMonitored] = na
		return
	}
	found := false
	p := sm.NewListMonitoringSchedulesPaginator(a.sm, &sm.ListMonitoringSchedulesInput{EndpointName: aws.String(name)})
	for p.HasMorePages() && !found {
		a.calls.add("sagemaker:ListMonitoringSchedules")
		// One attempt: a failure only leaves one fact unknown, and moto
		// answers HTTP 500, which the SDK would retry.
		page, err := p.NextPage(ctx, func(o *sm.Options) { o.RetryMaxAttempts = 1 })
		if err != nil {
			s.Monitored = compliance.Unknown
			if notAvailable(err) {
				na := "not available: sagemaker:ListMonitoringSchedules: " + reason(err)
				a.mu.Lock()
				a.noSchedules = na
				a.mu.Unlock()
				s.Unchecked[FactMonitored] = na
				return
			}
			s.Unchecked[FactMonitored] = couldNot("sagemaker:ListMonitoringSchedules", err)
			return
		}
		for _, m := range page.MonitoringScheduleSummaries {
			if aws.ToString(m.EndpointName) != "" && aws.ToString(m.EndpointName) != name {
				continue
			}
			switch m.MonitoringScheduleStatus {
			case smtypes.ScheduleStatusScheduled, smtypes.ScheduleStatusPending:
				found = true
			}
		}
	}
	s.Monitored = compliance.FactOf(found)
}

// arnAccount returns the account field of an ARN, "" if there is none.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// parseS3URI splits "s3://bucket/prefix" (or the https form SageMaker also
// accepts, "https://bucket.s3.region.amazonaws.com/prefix" or
// "https://s3.region.amazonaws.com/bucket/prefix") into bucket and prefix.
func parseS3URI(uri string) (bucket, prefix string, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(uri, "s3://"):
		rest = strings.TrimPrefix(uri, "s3://")
	case strings.HasPrefix(uri, "https://"):
		rest = strings.TrimPrefix(uri, "https://")
		host, path, _ := strings.Cut(rest, "/")
		if b, _, found := strings.Cut(host, ".s3"); found && !strings.HasPrefix(host, "s3.") && !strings.HasPrefix(host, "s3-") {
			bucket, prefix = b, strings.Trim(path, "/")
			return bucket, prefix, bucket != ""
		}
		rest = path
	default:
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/"), bucket != ""
}

// couldNot formats the Unchecked reason of a failed call.
func couldNot(api string, err error) string {
	return "could not check: " + api + ": " + reason(err)
}

// reason is a short, single-line description of err: the service's error
// code and message when it sent one, with the HTTP status.
func reason(err error) string {
	var ae smithy.APIError
	var msg string
	if errors.As(err, &ae) {
		msg = ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			msg += ": " + m
		}
	} else {
		msg = err.Error()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		msg = fmt.Sprintf("HTTP %d: %s", re.HTTPStatusCode(), msg)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}

// notAvailable reports whether err says the API is not implemented by this
// server (moto answers HTTP 500 or 501 for operations it lacks).
func notAvailable(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		if c := re.HTTPStatusCode(); c == 500 || c == 501 {
			return true
		}
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.ErrorCode()), "notimplemented")
}

// errorCode is the service error code of err, "" if it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
