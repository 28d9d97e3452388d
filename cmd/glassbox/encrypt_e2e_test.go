package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/glassbox-dev/glassbox/internal/config"
	"github.com/glassbox-dev/glassbox/internal/keys"
	"github.com/glassbox-dev/glassbox/internal/objstore"
	"github.com/glassbox-dev/glassbox/internal/objstore/file"
	"github.com/glassbox-dev/glassbox/internal/objstore/s3"
	"github.com/glassbox-dev/glassbox/internal/testenv"
)

// encMarker is planted in every payload; it must never appear in the blob
// store in clear (nor base64-encoded).
const encMarker = "PLAINTEXT-MARKER-4111111111111111"

// serveConfigFile runs glassbox serve in-process on the config file at
// path, sends n invocations to endpoint (each with a ~8 KiB CSV body that
// carries encMarker), shuts down (which uploads every record) and returns
// the event ids.
func serveConfigFile(t *testing.T, path, endpoint string, n int) []string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInProcess(t, cfg, io.Discard)
	base := "http://" + addr
	var ids []string
	body := []byte(strings.Repeat(encMarker+",1.5,2.5\n", 220))
	for range n {
		resp, _ := post(t, base+"/endpoints/"+endpoint+"/invocations", "text/csv", body, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("invocation status %d", resp.StatusCode)
		}
		ids = append(ids, resp.Header.Get("X-Glassbox-Event-Id"))
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	return ids
}

// listCaptures runs 'captures list --output json' and returns the event ids
// by object key, failing the test unless every input carries encMarker.
func listCaptures(t *testing.T, args ...string) map[string][]string {
	t.Helper()
	out, errs, code := runCLI(t, append([]string{"captures", "list", "--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("captures list exited %d: %s", code, errs)
	}
	var listed []listedRecord
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("captures list output: %v\n%s", err, out)
	}
	byObject := map[string][]string{}
	for _, l := range listed {
		if !strings.Contains(payloadText(l.Record.CaptureData.EndpointInput), encMarker) {
			t.Fatalf("record %s: input not decrypted: %q", l.Record.EventMetadata.EventID, payloadText(l.Record.CaptureData.EndpointInput))
		}
		byObject[l.Object] = append(byObject[l.Object], l.Record.EventMetadata.EventID)
	}
	return byObject
}

// rawObjects returns the stored bytes of every object under prefix of b.
func rawObjects(t *testing.T, b objstore.Bucket, prefix string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := b.List(context.Background(), prefix, func(oi objstore.ObjectInfo) error {
		rc, err := b.Get(context.Background(), oi.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		out[oi.Key] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no objects under %q", prefix)
	}
	return out
}

// checkCiphertext fails the test unless every object starts with the
// encrypted-object magic and holds neither encMarker nor its base64.
func checkCiphertext(t *testing.T, objects map[string][]byte) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString([]byte(encMarker + ",1.5,2.5\n" + encMarker))
	for key, data := range objects {
		if !keys.IsEncrypted(data) {
			t.Errorf("%s does not start with the encrypted-object magic: %q", key, data[:min(len(data), 40)])
		}
		if bytes.Contains(data, []byte(encMarker)) || bytes.Contains(data, []byte(b64[8:40])) {
			t.Errorf("%s contains the plaintext payload", key)
		}
	}
}

// objectHeader decodes the JSON header of an encrypted object.
func objectHeader(t *testing.T, data []byte) (head int, provider string, wrapped []byte, chunk int) {
	t.Helper()
	n := int(binary.BigEndian.Uint32(data[9:13]))
	var h struct {
		Provider   string `json:"provider"`
		WrappedKey []byte `json:"wrapped_key"`
		ChunkSize  int    `json:"chunk_size"`
	}
	if err := json.Unmarshal(data[13:13+n], &h); err != nil {
		t.Fatal(err)
	}
	return 13 + n, h.Provider, h.WrappedKey, h.ChunkSize
}

// TestEncryption_LocalKeyring is the end-to-end run of envelope encryption
// with a local keyring: traffic, ciphertext at rest, transparent reads,
// rotation, and clear errors on damaged objects.
func TestEncryption_LocalKeyring(t *testing.T) {
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	keyring := filepath.Join(dir, "keys", "keyring.json")
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0", shutdown_timeout: 20s}
storage: {blob: "file://%s", spool: %q}
log: {level: error}
keys:
  provider: local
  keyring: %q
%s  - name: open
    variants: [{name: AllTraffic, upstream: %q}]
`, data, filepath.Join(dir, "spool"), keyring,
		endpointYAML("secret", m.URL, "      encrypt: true\n      durability: sync\n"), m.URL)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	// Run 1: the keyring is created, private, with version 1.
	ids1 := serveConfigFile(t, cfgPath, "secret", 20)
	_ = serveConfigFile(t, cfgPath, "open", 2)
	fi, err := os.Stat(keyring)
	if err != nil {
		t.Fatalf("keyring not created: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keyring mode %04o, want 0600", fi.Mode().Perm())
	}
	raw, err := file.New(data)
	if err != nil {
		t.Fatal(err)
	}
	objs1 := rawObjects(t, raw, "secret/")
	checkCiphertext(t, objs1)
	for key, obj := range objs1 {
		_, provider, wrapped, chunk := objectHeader(t, obj)
		if provider != "local:"+keyring || chunk != keys.DefaultChunkSize || binary.BigEndian.Uint32(wrapped[1:5]) != 1 {
			t.Errorf("%s: provider %q, chunk size %d, key version %d; want local keyring version 1", key, provider, chunk, binary.BigEndian.Uint32(wrapped[1:5]))
		}
	}
	// The endpoint without encrypt stays plain.
	for key, obj := range rawObjects(t, raw, "open/") {
		if keys.IsEncrypted(obj) || !bytes.Contains(obj, []byte(encMarker)) {
			t.Errorf("%s of the unencrypted endpoint is not plain", key)
		}
	}

	// captures list decrypts.
	listed := listCaptures(t, "--config", cfgPath, "--endpoint", "secret")
	if got := countIDs(listed); got != len(ids1) {
		t.Fatalf("captures list shows %d records, want %d", got, len(ids1))
	}
	// Without the keys section the same objects cannot be read, and the
	// message says why.
	_, errs, code := runCLI(t, "captures", "list", "--blob", "file://"+data, "--endpoint", "secret")
	if code == 0 || !strings.Contains(errs, "no key provider is configured") {
		t.Errorf("captures list without keys: exit %d, %s", code, errs)
	}

	// keys list, keys rotate.
	out, errs, code := runCLI(t, "keys", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "local:"+keyring) || !strings.Contains(out, "*") {
		t.Fatalf("keys list: exit %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "keys", "rotate", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "version 2 is now current") {
		t.Fatalf("keys rotate: exit %d\n%s%s", code, out, errs)
	}

	// Run 2: new objects use version 2; old ones still read.
	ids2 := serveConfigFile(t, cfgPath, "secret", 10)
	objs := rawObjects(t, raw, "secret/")
	checkCiphertext(t, objs)
	versions := map[uint32]int{}
	for key, obj := range objs {
		_, _, wrapped, _ := objectHeader(t, obj)
		v := binary.BigEndian.Uint32(wrapped[1:5])
		if _, old := objs1[key]; old != (v == 1) {
			t.Errorf("%s: key version %d (object from run 1: %v)", key, v, old)
		}
		versions[v]++
	}
	if versions[1] == 0 || versions[2] == 0 {
		t.Fatalf("key versions in use %v, want both 1 and 2", versions)
	}
	listed = listCaptures(t, "--config", cfgPath, "--endpoint", "secret")
	if got := countIDs(listed); got != len(ids1)+len(ids2) {
		t.Fatalf("after rotation captures list shows %d records, want %d", got, len(ids1)+len(ids2))
	}
	out, errs, code = runCLI(t, "captures", "get", ids1[0], "--config", cfgPath)
	if code != 0 || !strings.Contains(out, encMarker) {
		t.Fatalf("captures get of a version-1 record: exit %d\n%s%s", code, out, errs)
	}

	// Damaged objects: a clear error, never garbage.
	var victim string
	for key, evs := range listed {
		if _, ok := objs1[key]; ok && len(evs) > 0 && len(objs1[key]) > 3*keys.DefaultChunkSize {
			victim = key
		}
	}
	if victim == "" {
		t.Fatalf("no object of run 1 spans several chunks: %d objects", len(objs1))
	}
	good := objs1[victim]
	path := filepath.Join(data, filepath.FromSlash(victim))
	head, _, _, _ := objectHeader(t, good)
	lastEvent := listed[victim][len(listed[victim])-1]
	finalChunk := (len(good) - head) % (keys.DefaultChunkSize + 16)
	if finalChunk == 0 {
		finalChunk = keys.DefaultChunkSize + 16
	}
	damage := []struct {
		name, want string
		data       []byte
	}{
		{"flipped byte", "corrupt", flipByte(good, head+100)},
		{"final chunk cut off", "truncated", good[:len(good)-finalChunk]},
		{"cut mid-chunk", "corrupt", good[:len(good)-finalChunk/2]},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			if err := os.WriteFile(path, d.data, 0o644); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = os.WriteFile(path, good, 0o644) }()
			out, errs, code := runCLI(t, "captures", "get", lastEvent, "--config", cfgPath)
			if code == 0 {
				t.Fatalf("captures get on a damaged object succeeded:\n%s", out)
			}
			t.Logf("captures get: %s", strings.TrimSpace(errs))
			if !strings.Contains(errs, d.want) || !strings.Contains(errs, victim) {
				t.Errorf("captures get error %q, want it to say %q and name %s", errs, d.want, victim)
			}
			if strings.Contains(out, encMarker) || strings.Contains(out, lastEvent) {
				t.Errorf("captures get printed data from a damaged object:\n%s", out)
			}
		})
	}
}

// createKMSKey creates a KMS key with an alias on moto and returns its ARN
// and the alias.
func createKMSKey(t *testing.T, endpoint string) (arn, alias string) {
	t.Helper()
	c := awskms.New(awskms.Options{
		Region:       testenv.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(testenv.AccessKeyID, testenv.SecretAccessKey, ""),
	})
	out, err := c.CreateKey(t.Context(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	alias = "alias/" + testenv.UniqueName("glassbox-e2e")
	if _, err := c.CreateAlias(t.Context(), &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn), alias
}

func countIDs(byObject map[string][]string) int {
	n := 0
	for _, ids := range byObject {
		n += len(ids)
	}
	return n
}

func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// TestEncryption_AWSKMS runs the same round trip with provider awskms and an
// S3 blob store, both on moto.
func TestEncryption_AWSKMS(t *testing.T) {
	endpoint := testenv.Moto(t)
	testenv.AWSEnv(t, endpoint)
	bucketName := testenv.UniqueName("enc")
	testenv.CreateBucket(t, endpoint, bucketName)
	keyARN, alias := createKMSKey(t, endpoint)
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0", shutdown_timeout: 20s}
storage:
  blob: s3://%s/capture/
  spool: %q
  s3: {endpoint: %q, path_style: true}
log: {level: error}
keys:
  provider: awskms
  kms_key_id: %s
`, bucketName, filepath.Join(dir, "spool"), endpoint, alias) + endpointYAML("kmsep", m.URL, "      encrypt: true\n")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := serveConfigFile(t, cfgPath, "kmsep", 12)

	raw, err := s3.New(context.Background(), s3.Options{Bucket: bucketName, Prefix: "capture", Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	objs := rawObjects(t, raw, "kmsep/")
	checkCiphertext(t, objs)
	for key, obj := range objs {
		_, provider, wrapped, _ := objectHeader(t, obj)
		if provider != "awskms:"+alias || !bytes.Contains(wrapped, []byte(keyARN)) {
			t.Errorf("%s: provider %q; want awskms:%s and a data key wrapped by %s", key, provider, alias, keyARN)
		}
	}
	listed := listCaptures(t, "--config", cfgPath, "--endpoint", "kmsep")
	if got := countIDs(listed); got != len(ids) {
		t.Fatalf("captures list shows %d records, want %d", got, len(ids))
	}
	out, errs, code := runCLI(t, "captures", "get", ids[3], "--config", cfgPath, "--output", "json")
	if code != 0 || !strings.Contains(out, ids[3]) {
		t.Fatalf("captures get: exit %d\n%s%s", code, out, errs)
	}
	_, errs, code = runCLI(t, "keys", "rotate", "--config", cfgPath)
	if code == 0 || !strings.Contains(errs, "rotated in AWS KMS") {
		t.Errorf("keys rotate with awskms: exit %d, %s", code, errs)
	}

	// A config naming another KMS key cannot read these objects.
	otherARN, _ := createKMSKey(t, endpoint)
	otherCfg := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(otherCfg, []byte(strings.Replace(yaml, "kms_key_id: "+alias, "kms_key_id: "+otherARN, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCLI(t, "captures", "get", ids[0], "--config", otherCfg)
	if code == 0 || !strings.Contains(errs, "cannot unwrap the data key") || strings.Contains(out, encMarker) {
		t.Errorf("captures get with another KMS key: exit %d, %s%s", code, out, errs)
	}
}

// TestEncryption_AppliedEndpoints: an endpoint added through the API with
// capture.encrypt is encrypted from its first object; a server without a
// keys provider refuses such an endpoint instead of storing it in clear.
func TestEncryption_AppliedEndpoints(t *testing.T) {
	m := startTestModel(t, echoModel("text/csv"))
	t.Setenv(BootstrapTokenEnv, testAdminToken)
	decl := fmt.Sprintf("endpoints:\n  - name: late\n    tags: {owner: risk}\n    variants: [{name: A, upstream: %q}]\n    capture: {encrypt: true, max_object_seconds: 1}\n", m.URL)

	// Without keys: refused, naming the reason.
	dir := t.TempDir()
	s := startServer(t, cpConfig(dir, "", m.URL))
	applyFile := filepath.Join(dir, "apply.yaml")
	if err := os.WriteFile(applyFile, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := cli(t, s, testAdminToken, "apply", "-f", applyFile); code == 0 || !strings.Contains(out, "no keys provider") {
		t.Fatalf("apply of an encrypted endpoint on a server without keys: exit %d, %s", code, out)
	}

	// With keys: applied live, and its objects are ciphertext.
	dir = t.TempDir()
	withKeys := cpConfig(dir, "", m.URL) + fmt.Sprintf("keys: {provider: local, keyring: %q}\n", filepath.Join(dir, "keyring.json"))
	s = startServer(t, withKeys)
	if err := os.WriteFile(applyFile, []byte(decl), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := cli(t, s, testAdminToken, "apply", "-f", applyFile); code != 0 {
		t.Fatalf("apply: exit %d, %s", code, out)
	}
	for i := range 3 {
		body := fmt.Sprintf("%s,1.5,2.5\n%s-%d", encMarker, encMarker, i)
		if resp, b := post(t, s.URL+"/endpoints/late/invocations", "text/csv", []byte(body), nil); resp.StatusCode != 200 {
			t.Fatalf("invoke: %d %s", resp.StatusCode, b)
		}
	}
	data, err := file.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		_ = data.List(context.Background(), "late/", func(objstore.ObjectInfo) error { n++; return nil })
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no capture object of the applied endpoint reached the blob store")
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkCiphertext(t, rawObjects(t, data, "late/"))
}

// TestEncryption_SpoolAtRest: with a keys section the spool is encrypted
// too. Records fsynced (durability: sync) while the blob store cannot be
// written stay in the spool; no file of the spool folder holds the planted
// marker, in clear or base64, whether its endpoint encrypts its objects or
// not. Once the store is back, shutdown uploads every record.
func TestEncryption_SpoolAtRest(t *testing.T) {
	m := startTestModel(t, echoModel("text/csv"))
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	spool := filepath.Join(dir, "spool")
	cfgPath := filepath.Join(dir, "glassbox.yaml")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0", shutdown_timeout: 20s}
storage: {blob: "file://%s", spool: %q, spool_fsync_interval: 20ms}
log: {level: error}
keys:
  provider: local
  keyring: %q
%s  - name: open
    variants: [{name: AllTraffic, upstream: %q}]
    capture: {durability: sync, max_object_seconds: 1}
`, data, spool, filepath.Join(dir, "keys", "keyring.json"),
		endpointYAML("secret", m.URL, "      encrypt: true\n      durability: sync\n      max_object_seconds: 1\n"), m.URL)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveInProcess(t, cfg, io.Discard)
	base := "http://" + addr

	// The blob store becomes unwritable (a regular file where its folder
	// was; chmod would not stop root).
	aside := data + ".aside"
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(data, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat(encMarker+",1.5,2.5\n", 220))
	sent := map[string]int{}
	for i := range 12 {
		ep := []string{"secret", "open"}[i%2]
		resp, _ := post(t, base+"/endpoints/"+ep+"/invocations", "text/csv", body, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s invocation status %d", ep, resp.StatusCode)
		}
		sent[ep]++
		if i == 5 {
			time.Sleep(1200 * time.Millisecond) // a segment seals and fails to upload
		}
	}

	// Every record is fsynced (sync) and none uploaded: all are in the spool.
	var segs []string
	var spoolFiles []string
	forms := [][]byte{[]byte(encMarker)}
	for pad := range 3 {
		b64 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", pad) + encMarker + ",1.5,2.5\n" + encMarker))
		forms = append(forms, []byte(b64[4:40]))
	}
	err = filepath.WalkDir(spool, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		spoolFiles = append(spoolFiles, path)
		if strings.HasSuffix(path, ".seg") {
			segs = append(segs, path)
			if !bytes.HasPrefix(b, []byte("GBSPOOL2")) {
				t.Errorf("%s is not an encrypted segment: %q", path, b[:min(8, len(b))])
			}
		}
		for _, f := range forms {
			if bytes.Contains(b, f) {
				t.Errorf("%s holds the plaintext payload (%q)", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 2 {
		t.Errorf("spool segments %v, want a sealed one waiting for the store and the active one (files %v)", segs, spoolFiles)
	}

	// The store is back; shutdown uploads everything.
	if err := os.Remove(data); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(aside, data); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if got := countIDs(listCaptures(t, "--config", cfgPath, "--endpoint", "secret")); got != sent["secret"] {
		t.Errorf("secret: %d records in the store, want %d", got, sent["secret"])
	}
	if got := countIDs(listCaptures(t, "--config", cfgPath, "--endpoint", "open")); got != sent["open"] {
		t.Errorf("open: %d records in the store, want %d", got, sent["open"])
	}
	raw, err := file.New(data)
	if err != nil {
		t.Fatal(err)
	}
	checkCiphertext(t, rawObjects(t, raw, "secret/"))
}
