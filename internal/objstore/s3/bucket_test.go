package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/objstoretest"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

func TestBucket_Contract(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)

	t.Run("no prefix", func(t *testing.T) {
		// Endpoint and credentials come from the environment (AWSEnv).
		objstoretest.RunBucketTests(t, func(t *testing.T) objstore.Bucket {
			return newBucket(t, endpoint, s3.Options{PathStyle: true})
		})
	})
	t.Run("prefix", func(t *testing.T) {
		objstoretest.RunBucketTests(t, func(t *testing.T) objstore.Bucket {
			if strings.HasSuffix(t.Name(), "/KeyLengthLimit") {
				// S3 limits the whole object key, prefix included, to
				// MaxKeyLen bytes; TestBucket_PrefixLayout covers the limit.
				t.Skip("not a dependency (CI runs the rest): a MaxKeyLen-byte key does not fit below a prefix; TestBucket_PrefixLayout checks the limit")
			}
			return newBucket(t, endpoint, s3.Options{Endpoint: endpoint, PathStyle: true, Prefix: "datacapture/"})
		})
	})
}

// newBucket creates a fresh S3 bucket on the moto endpoint and returns an
// s3.Bucket for it configured with opts (Bucket is filled in).
func newBucket(t *testing.T, endpoint string, opts s3.Options) *s3.Bucket {
	t.Helper()
	opts.Bucket = testenv.UniqueName("glassbox")
	testenv.CreateBucket(t, endpoint, opts.Bucket)
	return mustNew(t, opts)
}

// mustNew returns s3.New(ctx, opts), failing tb on error.
func mustNew(tb testing.TB, opts s3.Options) *s3.Bucket {
	tb.Helper()
	b, err := s3.New(tb.Context(), opts)
	if err != nil {
		tb.Fatalf("New(%+v): %v", opts, err)
	}
	return b
}

// rawClient returns an SDK client for inspecting what the Bucket stored.
func rawClient(endpoint string) *awss3.Client {
	return awss3.New(awss3.Options{
		Region:       testenv.Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, ""),
		DisableLogOutputChecksumValidationSkipped: true,
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw        string
		bucket     string
		prefix     string
		errSubstr  string // "" means no error
		invalidKey bool   // the error wraps objstore.ErrInvalidKey
	}{
		{raw: "s3://my-bucket", bucket: "my-bucket"},
		{raw: "s3://my-bucket/", bucket: "my-bucket"},
		{raw: "s3://my-bucket/datacapture", bucket: "my-bucket", prefix: "datacapture"},
		{raw: "s3://my-bucket/datacapture/", bucket: "my-bucket", prefix: "datacapture"},
		{raw: "s3://my-bucket//a/b//", bucket: "my-bucket", prefix: "a/b"},
		{raw: "S3://my.bucket.v2/x", bucket: "my.bucket.v2", prefix: "x"},
		{raw: "s3://abc/ünï €", bucket: "abc", prefix: "ünï €"},
		{raw: "", errSubstr: "want s3://bucket"},
		{raw: "my-bucket/x", errSubstr: "want s3://bucket"},
		{raw: "https://my-bucket/x", errSubstr: "want s3://bucket"},
		{raw: "s3://", errSubstr: "empty"},
		{raw: "s3:///prefix", errSubstr: "empty"},
		{raw: "s3://ab", errSubstr: "3 to 63"},
		{raw: "s3://" + strings.Repeat("a", 64), errSubstr: "3 to 63"},
		{raw: "s3://My-Bucket", errSubstr: "lowercase"},
		{raw: "s3://my_bucket", errSubstr: "lowercase"},
		{raw: "s3://-bucket", errSubstr: "start and end"},
		{raw: "s3://bucket-/x", errSubstr: "start and end"},
		{raw: "s3://my..bucket", errSubstr: "adjacent periods"},
		{raw: "s3://192.168.5.4", errSubstr: "IP address"},
		{raw: "s3://xn--bucket", errSubstr: `prefix "xn--"`},
		{raw: "s3://sthree-bucket", errSubstr: `prefix "sthree-"`},
		{raw: "s3://bucket-s3alias", errSubstr: `suffix "-s3alias"`},
		{raw: "s3://bucket--x-s3", errSubstr: `suffix "--x-s3"`},
		{raw: "s3://user:pw@bucket/x", errSubstr: "lowercase"},
		{raw: "s3://bucket/x?versionId=1", errSubstr: "query"},
		{raw: "s3://bucket/x#frag", errSubstr: "fragment"},
		{raw: "s3://bucket/a/../b", errSubstr: `".." segment`, invalidKey: true},
		{raw: "s3://bucket/a//b", errSubstr: "empty segment", invalidKey: true},
		{raw: `s3://bucket/a\b`, errSubstr: "backslash", invalidKey: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			bucket, prefix, err := s3.ParseURL(tt.raw)
			if tt.errSubstr == "" {
				if err != nil {
					t.Fatalf("ParseURL(%q) error = %v", tt.raw, err)
				}
				if bucket != tt.bucket || prefix != tt.prefix {
					t.Errorf("ParseURL(%q) = %q, %q; want %q, %q", tt.raw, bucket, prefix, tt.bucket, tt.prefix)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("ParseURL(%q) error = %v, want one containing %q", tt.raw, err, tt.errSubstr)
			}
			if got := errors.Is(err, objstore.ErrInvalidKey); got != tt.invalidKey {
				t.Errorf("errors.Is(err, ErrInvalidKey) = %v, want %v", got, tt.invalidKey)
			}
		})
	}
}

func TestNew_InvalidOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      s3.Options
		errSubstr string
	}{
		{"no bucket", s3.Options{}, "empty"},
		{"bad bucket", s3.Options{Bucket: "Bad_Bucket"}, "invalid bucket name"},
		{"bad prefix", s3.Options{Bucket: "ok-bucket", Prefix: "a//b"}, "prefix"},
		{"unknown sse", s3.Options{Bucket: "ok-bucket", SSE: "des"}, `unknown sse "des"`},
		{"kms key without kms", s3.Options{Bucket: "ok-bucket", SSE: s3.SSEAES256, KMSKeyID: "alias/x"}, "kms key id is set"},
		{"negative attempts", s3.Options{Bucket: "ok-bucket", MaxAttempts: -1}, "max attempts"},
		{"endpoint without scheme", s3.Options{Bucket: "ok-bucket", Endpoint: "localhost:9000"}, "endpoint"},
		{"endpoint without host", s3.Options{Bucket: "ok-bucket", Endpoint: "http://"}, "endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := s3.New(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("New(%+v) = %v, %v; want an error containing %q", tt.opts, b, err, tt.errSubstr)
			}
		})
	}
}

func TestBucket_String(t *testing.T) {
	testenv.AWSEnv(t, "http://127.0.0.1:1") // New reads the config chain only
	defaults := s3.DefaultOptions()
	defaults.Bucket = "defaults"
	tests := []struct {
		opts s3.Options
		want string
	}{
		{s3.Options{Bucket: "data"}, "s3://data"},
		{s3.Options{Bucket: "data", Prefix: "/capture/prod/"}, "s3://data/capture/prod"},
		{defaults, "s3://defaults"},
	}
	for _, tt := range tests {
		if got := mustNew(t, tt.opts).String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestBucket_PrefixLayout checks where a prefixed bucket puts its objects,
// that it sees nothing outside its prefix, and the key length limit that the
// prefix imposes.
func TestBucket_PrefixLayout(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	root := newBucket(t, endpoint, s3.Options{PathStyle: true})
	opts := s3.Options{Bucket: bucketName(t, root), Prefix: "datacapture", PathStyle: true}
	pre := mustNew(t, opts)

	objstoretest.MustPut(t, pre, "ep/a.jsonl", []byte("inside"))
	objstoretest.MustPut(t, root, "outside", []byte("outside"))
	objstoretest.MustPut(t, root, "datacapture-other/x", []byte("sibling prefix"))
	objstoretest.MustPut(t, root, "datacapture/ep/b", []byte("put below the prefix from outside"))

	if diff := cmp.Diff([]string{"datacapture-other/x", "datacapture/ep/a.jsonl", "datacapture/ep/b", "outside"},
		objstoretest.MustListKeys(t, root, "")); diff != "" {
		t.Errorf("root List mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ep/a.jsonl", "ep/b"}, objstoretest.MustListKeys(t, pre, "")); diff != "" {
		t.Errorf("prefixed List mismatch (-want +got):\n%s", diff)
	}
	if got := string(objstoretest.MustGet(t, pre, "ep/b")); got != "put below the prefix from outside" {
		t.Errorf("Get(ep/b) = %q", got)
	}

	// S3 limits the full key, prefix and "/" included, to MaxKeyLen bytes.
	fits := strings.Repeat("k", objstore.MaxKeyLen-len("datacapture/"))
	objstoretest.MustPut(t, pre, fits, []byte("longest"))
	if err := pre.Put(t.Context(), fits+"k", strings.NewReader("x")); !errors.Is(err, objstore.ErrInvalidKey) {
		t.Errorf("Put of a key one byte too long below the prefix: error = %v, want ErrInvalidKey", err)
	}
}

// bucketName extracts the bucket name from b.String().
func bucketName(t *testing.T, b *s3.Bucket) string {
	t.Helper()
	name, _, err := s3.ParseURL(b.String())
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// TestBucket_ListEncodedKeys puts keys with characters that XML cannot carry
// or that URL encoding changes, and lists them back.
func TestBucket_ListEncodedKeys(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	b := newBucket(t, endpoint, s3.Options{PathStyle: true, Prefix: "p q"})
	keys := []string{"a b/c+d", "a%20b", "a+b", "ctl\x01\x1f", "ü/€ ?#&=;"}
	for _, k := range keys {
		objstoretest.MustPut(t, b, k, []byte(k))
	}
	want := []string{"a b/c+d", "a%20b", "a+b", "ctl\x01\x1f", "ü/€ ?#&=;"}
	if diff := cmp.Diff(want, objstoretest.MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
	for _, k := range keys {
		if got := string(objstoretest.MustGet(t, b, k)); got != k {
			t.Errorf("Get(%q) = %q", k, got)
		}
	}
}

func TestBucket_PutMetadata(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	client := rawClient(endpoint)

	tests := []struct {
		name    string
		opts    s3.Options
		key     string
		wantSSE types.ServerSideEncryption
		wantKMS string
		wantCT  string
	}{
		{"aes256 jsonl", s3.Options{SSE: s3.SSEAES256}, "ep/2024/01/02/03/x.jsonl", types.ServerSideEncryptionAes256, "", "application/x-ndjson"},
		{"none", s3.Options{}, "ep/baseline.json", "", "", ""},
		{"kms with key", s3.Options{SSE: s3.SSEKMS, KMSKeyID: "alias/glassbox-test"}, "k.jsonl", types.ServerSideEncryptionAwsKms, "alias/glassbox-test", "application/x-ndjson"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.PathStyle = true
			b := newBucket(t, endpoint, tt.opts)
			// A seekable body positioned past its start: Put sends the rest.
			r := bytes.NewReader([]byte("skip{\"a\":1}\n"))
			if _, err := r.Seek(4, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			if err := b.Put(t.Context(), tt.key, r); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := string(objstoretest.MustGet(t, b, tt.key)); got != "{\"a\":1}\n" {
				t.Errorf("Get = %q, want the bytes after the reader's offset", got)
			}
			head, err := client.HeadObject(t.Context(), &awss3.HeadObjectInput{
				Bucket: aws.String(bucketName(t, b)),
				Key:    aws.String(tt.key),
			})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if head.ServerSideEncryption != tt.wantSSE {
				t.Errorf("ServerSideEncryption = %q, want %q", head.ServerSideEncryption, tt.wantSSE)
			}
			if tt.wantKMS != "" && !strings.Contains(aws.ToString(head.SSEKMSKeyId), tt.wantKMS) {
				t.Errorf("SSEKMSKeyId = %q, want it to name %q", aws.ToString(head.SSEKMSKeyId), tt.wantKMS)
			}
			if tt.wantCT != "" && aws.ToString(head.ContentType) != tt.wantCT {
				t.Errorf("ContentType = %q, want %q", aws.ToString(head.ContentType), tt.wantCT)
			}
			if got := aws.ToInt64(head.ContentLength); got != int64(len("{\"a\":1}\n")) {
				t.Errorf("ContentLength = %d", got)
			}
		})
	}
}

// TestBucket_MissingBucket checks that a missing bucket is not mistaken for
// a missing object by Get and List.
func TestBucket_MissingBucket(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	b := mustNew(t, s3.Options{Bucket: testenv.UniqueName("never-created"), PathStyle: true, MaxAttempts: 1})

	rc, err := b.Get(t.Context(), "k")
	if err == nil {
		_ = rc.Close()
		t.Fatal("Get from a missing bucket succeeded")
	}
	if errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get from a missing bucket: error %v wraps ErrNotFound; want a distinct error", err)
	}
	if err := b.List(t.Context(), "", func(objstore.ObjectInfo) error { return nil }); err == nil {
		t.Error("List of a missing bucket succeeded")
	}
	if err := b.Put(t.Context(), "k", strings.NewReader("x")); err == nil {
		t.Error("Put into a missing bucket succeeded")
	}
}

// TestBucket_StoreOutage stops the store, checks that Put fails after its
// bounded retries, then starts the store again and checks that Put works.
func TestBucket_StoreOutage(t *testing.T) {
	moto := testenv.StartMoto(t) // private: this test stops it
	testenv.AWSEnv(t, moto.URL)
	name := testenv.UniqueName("outage")
	testenv.CreateBucket(t, moto.URL, name)
	b := mustNew(t, s3.Options{Bucket: name, Endpoint: moto.URL, PathStyle: true, MaxAttempts: 2})
	objstoretest.MustPut(t, b, "before", []byte("up"))

	moto.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err := b.Put(ctx, "during", strings.NewReader("down"))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Put while the store is down succeeded")
	}
	if ctx.Err() != nil {
		t.Fatalf("Put while the store is down ran until the test's deadline: %v", err)
	}
	if elapsed > 15*time.Second {
		t.Errorf("Put while the store is down took %v; with MaxAttempts 2 it should fail within seconds", elapsed)
	}
	t.Logf("Put while down failed after %v: %v", elapsed.Round(time.Millisecond), err)

	if err := moto.Start(); err != nil {
		t.Fatalf("restart moto: %v", err)
	}
	testenv.CreateBucket(t, moto.URL, name) // moto lost its state
	objstoretest.MustPut(t, b, "after", []byte("up again"))
	if got := string(objstoretest.MustGet(t, b, "after")); got != "up again" {
		t.Errorf("Get(after) = %q", got)
	}
	if diff := cmp.Diff([]string{"after"}, objstoretest.MustListKeys(t, b, "")); diff != "" {
		t.Errorf("List after restart mismatch (-want +got):\n%s", diff)
	}
}
