// Package s3 implements objstore.Bucket over Amazon S3 and S3-compatible
// stores (moto, MinIO, …) with the AWS SDK for Go v2.
//
// A Bucket is one S3 bucket plus an optional key prefix: the object key in S3
// is prefix + "/" + key, and List strips the prefix again, so callers see the
// same keys as with any other objstore.Bucket.
//
// Configuration comes from the SDK's standard chain (environment variables
// such as AWS_REGION, AWS_ENDPOINT_URL and AWS_ACCESS_KEY_ID, the shared
// config and credentials files and AWS_PROFILE, web identity, container and
// instance credentials), with the fields of Options taking precedence.
//
// This package is an adapter (rank 3): it imports the standard library, the
// AWS SDK and the objstore port only.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/glassbox-dev/glassbox/internal/objstore"
)

// Server-side encryption modes for Options.SSE.
const (
	SSENone   = "none"   // no SSE header; the bucket's default encryption applies
	SSEAES256 = "aes256" // SSE-S3: x-amz-server-side-encryption: AES256
	SSEKMS    = "kms"    // SSE-KMS: aws:kms, with Options.KMSKeyID if set
)

// Defaults applied by New.
const (
	// DefaultRegion is used when neither Options.Region nor the SDK's
	// configuration chain names a region.
	DefaultRegion = "us-east-1"

	// DefaultMaxAttempts is the number of attempts per S3 request (the first
	// one included) when Options.MaxAttempts is 0.
	DefaultMaxAttempts = 5

	// MaxBackoff caps the randomized exponential back-off between attempts.
	MaxBackoff = 20 * time.Second
)

// MaxPutSize is the largest object Put accepts: the S3 limit for a single
// PutObject request (5 GiB).
const MaxPutSize = 5 << 30

// contentTypeJSONL is the Content-Type of objects whose key ends in .jsonl
// (capture files hold one JSON document per line).
const contentTypeJSONL = "application/x-ndjson"

var _ objstore.Bucket = (*Bucket)(nil)

// Options configures a Bucket. The zero value of every field except Bucket
// means "use the default".
type Options struct {
	// Bucket is the S3 bucket name. Required; it must follow the S3 naming
	// rules for general purpose buckets.
	Bucket string

	// Prefix is prepended, with a "/", to every key. Leading and trailing
	// slashes are ignored; the rest must be a valid objstore key ("a/b").
	// Empty means the bucket root.
	Prefix string

	// Region overrides the region from the SDK's configuration chain
	// (AWS_REGION, the profile). If neither sets one, DefaultRegion is used.
	Region string

	// Endpoint overrides the S3 endpoint URL, e.g. "http://127.0.0.1:5000"
	// for moto. If empty, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the
	// profile's endpoint_url apply, and otherwise the AWS endpoint for the
	// region.
	Endpoint string

	// PathStyle addresses the bucket in the URL path (endpoint/bucket/key)
	// rather than as a host name (bucket.endpoint/key). Most S3-compatible
	// servers on a custom Endpoint need it.
	PathStyle bool

	// SSE selects server-side encryption for Put: SSENone (or ""), SSEAES256
	// or SSEKMS.
	SSE string

	// KMSKeyID is the KMS key (id, ARN or alias) for SSEKMS. Empty means the
	// AWS-managed key aws/s3. It is an error with any other SSE mode.
	KMSKeyID string

	// MaxAttempts is the number of attempts per S3 request, the first one
	// included; 1 disables retries. 0 means DefaultMaxAttempts.
	MaxAttempts int

	// Logger receives the SDK's warnings and, at debug level, one line per
	// retried attempt. Nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns Options with every default spelled out; only
// Bucket (and usually Prefix) remain to be set.
func DefaultOptions() Options {
	return Options{SSE: SSENone, MaxAttempts: DefaultMaxAttempts}
}

// Bucket is an objstore.Bucket stored in an S3 bucket below an optional
// prefix. It is safe for concurrent use.
//
// Retries: every request uses the SDK's standard retryer with
// Options.MaxAttempts attempts and randomized exponential back-off capped at
// MaxBackoff. Only errors the SDK classifies as retryable are retried:
// throttling (429, SlowDown, …), 5xx responses, timeouts and connection
// errors. Client errors (403, 404, 400 …) fail at once. The standard
// retryer also keeps a client-wide retry quota: during a long outage the
// quota runs out and requests fail after their first attempt until
// successful requests refill it. Callers that must not lose data (the
// capture uploader) retry failed Puts themselves.
type Bucket struct {
	client    *s3.Client
	bucket    string
	prefix    string // normalized, without surrounding slashes; "" for none
	keyPrefix string // prefix + "/", or "" when prefix is ""
	sse       types.ServerSideEncryption
	kmsKeyID  string
}

// New loads the SDK configuration chain, applies opts and returns a Bucket.
// It does not contact S3, so a missing bucket or bad credentials surface on
// the first request.
func New(ctx context.Context, opts Options) (*Bucket, error) {
	if err := ValidateBucketName(opts.Bucket); err != nil {
		return nil, fmt.Errorf("new s3 bucket: %w", err)
	}
	prefix := strings.Trim(opts.Prefix, "/")
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("new s3 bucket: prefix: %w", err)
		}
	}

	b := &Bucket{bucket: opts.Bucket, prefix: prefix}
	if prefix != "" {
		b.keyPrefix = prefix + "/"
	}
	switch strings.ToLower(opts.SSE) {
	case "", SSENone:
	case SSEAES256:
		b.sse = types.ServerSideEncryptionAes256
	case SSEKMS:
		b.sse = types.ServerSideEncryptionAwsKms
		b.kmsKeyID = opts.KMSKeyID
	default:
		return nil, fmt.Errorf("new s3 bucket: unknown sse %q: want %q, %q or %q", opts.SSE, SSENone, SSEAES256, SSEKMS)
	}
	if opts.KMSKeyID != "" && b.sse != types.ServerSideEncryptionAwsKms {
		return nil, fmt.Errorf("new s3 bucket: kms key id is set but sse is %q, not %q", opts.SSE, SSEKMS)
	}

	maxAttempts := opts.MaxAttempts
	switch {
	case maxAttempts == 0:
		maxAttempts = DefaultMaxAttempts
	case maxAttempts < 0:
		return nil, fmt.Errorf("new s3 bucket: max attempts %d: must be at least 1 (0 for the default)", opts.MaxAttempts)
	}

	if opts.Endpoint != "" {
		if err := validateEndpoint(opts.Endpoint); err != nil {
			return nil, fmt.Errorf("new s3 bucket: %w", err)
		}
	}

	var sdkLog logging.Logger = logging.Nop{}
	if opts.Logger != nil {
		sdkLog = slogAdapter{log: opts.Logger}
	}
	loadOpts := []func(*config.LoadOptions) error{
		config.WithLogger(sdkLog),
		config.WithClientLogMode(aws.LogRetries),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = MaxBackoff
			})
		}),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("new s3 bucket: load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}

	b.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		o.UsePathStyle = opts.PathStyle
		// Objects written by PutObject without a checksum (or by servers
		// that send none) would otherwise log a line per Get.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return b, nil
}

// validateEndpoint checks that raw is an absolute http or https URL.
func validateEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL with a host", raw)
	}
	return nil
}

// ParseURL splits an "s3://bucket/prefix/" URL into the bucket name and the
// prefix without leading or trailing slashes ("" for "s3://bucket" or
// "s3://bucket/"). The bucket must follow the S3 naming rules and the prefix,
// if any, must be a valid objstore key; query strings and fragments are
// rejected.
func ParseURL(raw string) (bucket, prefix string, err error) {
	rest, ok := cutPrefixFold(raw, "s3://")
	if !ok {
		return "", "", fmt.Errorf("parse s3 url %q: want s3://bucket or s3://bucket/prefix", raw)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", "", fmt.Errorf("parse s3 url %q: query strings and fragments are not supported", raw)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := ValidateBucketName(bucket); err != nil {
		return "", "", fmt.Errorf("parse s3 url %q: %w", raw, err)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return "", "", fmt.Errorf("parse s3 url %q: prefix: %w", raw, err)
		}
	}
	return bucket, prefix, nil
}

// cutPrefixFold is strings.CutPrefix with a case-insensitive prefix.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// ValidateBucketName checks name against the S3 naming rules for general
// purpose buckets: 3–63 characters of lowercase letters, digits, "." and
// "-"; starting and ending with a letter or digit; no ".."; not shaped like
// an IPv4 address; none of the prefixes and suffixes S3 reserves.
func ValidateBucketName(name string) error {
	fail := func(reason string) error {
		return fmt.Errorf("invalid bucket name %q: %s", name, reason)
	}
	if name == "" {
		return errors.New("invalid bucket name: empty")
	}
	if len(name) < 3 || len(name) > 63 {
		return fail("must be 3 to 63 characters long")
	}
	for _, c := range []byte(name) {
		if !isLowerAlnum(c) && c != '.' && c != '-' {
			return fail("only lowercase letters, digits, '.' and '-' are allowed")
		}
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return fail("must start and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return fail("must not contain two adjacent periods")
	}
	if ip := net.ParseIP(name); ip != nil {
		return fail("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return fail(fmt.Sprintf("the prefix %q is reserved", p))
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return fail(fmt.Sprintf("the suffix %q is reserved", s))
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

// String returns "s3://bucket" or "s3://bucket/prefix".
func (b *Bucket) String() string {
	if b.prefix == "" {
		return "s3://" + b.bucket
	}
	return "s3://" + b.bucket + "/" + b.prefix
}

// objectKey validates key and returns the S3 object key that stores it. With
// a prefix, a valid key can still be too long for S3, which limits the whole
// object key to objstore.MaxKeyLen bytes.
func (b *Bucket) objectKey(key string) (string, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return "", err
	}
	full := b.keyPrefix + key
	if len(full) > objstore.MaxKeyLen {
		return "", fmt.Errorf("validate key: %w: with the bucket prefix %q the S3 key is %d bytes, longer than %d",
			objstore.ErrInvalidKey, b.prefix, len(full), objstore.MaxKeyLen)
	}
	return full, nil
}

// Put stores the bytes read from r under key with a single PutObject request;
// S3 makes the object visible atomically once the request succeeds.
//
// If r is an io.ReadSeeker (a *bytes.Reader, an *os.File), it is sent from
// its current offset without copying and rewound for retries. Any other
// reader is first read into memory, which suits the bounded objects Glassbox
// writes (capture files of a few MiB); objects larger than MaxPutSize are
// rejected either way. Keys ending in ".jsonl" get the Content-Type
// application/x-ndjson. Server-side encryption follows Options.SSE.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) error {
	objKey, err := b.objectKey(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	body, size, err := putBody(ctx, r)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(objKey),
		Body:          body,
		ContentLength: aws.Int64(size),
	}
	if strings.HasSuffix(key, ".jsonl") {
		in.ContentType = aws.String(contentTypeJSONL)
	}
	if b.sse != "" {
		in.ServerSideEncryption = b.sse
		if b.kmsKeyID != "" {
			in.SSEKMSKeyId = aws.String(b.kmsKeyID)
		}
	}
	if _, err := b.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// putBody returns a seekable body holding what remains of r, and its length.
func putBody(ctx context.Context, r io.Reader) (io.ReadSeeker, int64, error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		// A file that cannot seek (a pipe) fails the first Seek without
		// having consumed anything; it is buffered like any other reader.
		if cur, err := rs.Seek(0, io.SeekCurrent); err == nil {
			end, err := rs.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, 0, fmt.Errorf("measure body: %w", err)
			}
			if _, err := rs.Seek(cur, io.SeekStart); err != nil {
				return nil, 0, fmt.Errorf("rewind body: %w", err)
			}
			size := max(end-cur, 0)
			if size > MaxPutSize {
				return nil, 0, fmt.Errorf("body of %d bytes exceeds the %d-byte limit of a single PutObject", size, int64(MaxPutSize))
			}
			return rs, size, nil
		}
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx: ctx, r: r}, MaxPutSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read body: %w", err)
	}
	if int64(len(data)) > MaxPutSize {
		return nil, 0, fmt.Errorf("body exceeds the %d-byte limit of a single PutObject", int64(MaxPutSize))
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

// Get opens the object stored under key; the caller must close the returned
// body, which streams from S3 and stops working once ctx ends. It returns an
// error wrapping objstore.ErrNotFound when there is no such object (a
// missing bucket is a different error).
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	objKey, err := b.objectKey(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(objKey),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get %q: %w: %w", key, objstore.ErrNotFound, err)
		}
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return out.Body, nil
}

// Delete removes the object stored under key. S3's DeleteObject succeeds for
// missing keys, so Delete first asks HeadObject and returns an error wrapping
// objstore.ErrNotFound when the object does not exist. HeadObject answers a
// bare 404 for a missing bucket too, so Delete reports ErrNotFound then as
// well. The check and the delete are two requests: an object deleted
// concurrently in between is deleted again without error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	objKey, err := b.objectKey(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	_, err = b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(objKey),
	})
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("delete %q: %w: %w", key, objstore.ErrNotFound, err)
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(b.bucket),
		Key:    aws.String(objKey),
	}); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// List calls fn for every object whose key starts with prefix, in ascending
// byte-lexical key order, which is the UTF-8 binary order in which
// ListObjectsV2 returns keys. It pages through ListObjectsV2 (1000 keys per
// request) with URL-encoded keys, so keys holding characters XML cannot carry
// still list. Objects whose keys are not valid objstore keys once the bucket
// prefix is removed ("a//b", "dir/") are skipped. It checks ctx before each
// page and each object and returns ctx's error once ctx ends; it returns
// fn's first error unwrapped.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(objstore.ObjectInfo) error) error {
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	full := b.keyPrefix + prefix
	if len(full) > objstore.MaxKeyLen {
		return nil // no S3 key can be that long
	}
	pages := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket:       aws.String(b.bucket),
		Prefix:       aws.String(full),
		EncodingType: types.EncodingTypeUrl,
	})
	for pages.HasMorePages() {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := pages.NextPage(ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		// A server that ignores encoding-type returns keys as they are.
		encoded := page.EncodingType == types.EncodingTypeUrl
		for _, obj := range page.Contents {
			if err := ctx.Err(); err != nil {
				return err
			}
			objKey := aws.ToString(obj.Key)
			if encoded {
				if objKey, err = url.QueryUnescape(objKey); err != nil {
					return fmt.Errorf("list %q: decode key %q: %w", prefix, aws.ToString(obj.Key), err)
				}
			}
			key, ok := strings.CutPrefix(objKey, b.keyPrefix)
			if !ok || objstore.ValidateKey(key) != nil {
				continue
			}
			info := objstore.ObjectInfo{
				Key:     key,
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// isNotFound reports whether err from GetObject or HeadObject means the
// object does not exist: NoSuchKey, or a 404 (HeadObject's "NotFound" has
// no body) other than NoSuchBucket.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		case "NoSuchBucket":
			return false
		}
	}
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == 404
}

// slogAdapter sends the SDK's log lines to a *slog.Logger: WARN at warn
// level, everything else (retry attempts) at debug level.
type slogAdapter struct {
	log *slog.Logger
}

// Logf implements logging.Logger.
func (a slogAdapter) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "aws sdk: "+fmt.Sprintf(format, v...))
}

// ctxReader reads from r until ctx ends, so that a cancelled Put stops
// buffering a long or blocked-between-reads stream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
