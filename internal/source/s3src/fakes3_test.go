package s3src

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
)

// testBucket is the bucket of every test.
const testBucket = "events"

// testAppID marks the requests of the test's own client, which fakeS3
// neither logs nor fails.
const testAppID = "sfbridge-test"

// fakeS3 is an in-process S3: gofakes3 on an in-memory backend, behind a
// layer that adds what gofakes3 lacks (object tagging, with S3's rule that
// writing an object drops its tags) and can fail requests like a network
// or an S3 outage would. It is a test double of AWS, not of our code.
type fakeS3 struct {
	srv     *httptest.Server
	backend *s3mem.Backend
	s3      http.Handler
	// client is the test's own S3 client (to put and inspect objects).
	client *s3.Client

	mu   sync.Mutex
	tags map[string]map[string]string // by key
	// drop, when it returns true, closes the connection without an answer.
	drop func(r *http.Request) bool
	// deny, when it returns true, answers 403 AccessDenied.
	deny func(r *http.Request) bool
	// cut, when it returns n > 0 for a GET of an object, sends the first
	// n bytes of the body, then closes the connection.
	cut func(r *http.Request) int
	// log has every request of the sources (not the test's), in order.
	log []request
}

// request is one request fakeS3 received.
type request struct {
	Method string
	Key    string
	Query  url.Values
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New(), tags: map[string]map[string]string{}}
	f.s3 = gofakes3.New(f.backend).Server()
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	require.NoError(t, f.backend.CreateBucket(testBucket))
	f.client = s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(f.srv.URL),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           1,
		AppID:                      testAppID,
	})
	return f
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	own := strings.Contains(r.Header.Get("User-Agent"), "app/"+testAppID)
	f.mu.Lock()
	if !own {
		f.log = append(f.log, request{Method: r.Method, Key: key, Query: r.URL.Query()})
	}
	drop, deny, cut := f.drop, f.deny, f.cut
	f.mu.Unlock()
	if own {
		drop, deny, cut = nil, nil, nil
	}
	if drop != nil && drop(r) {
		panic(http.ErrAbortHandler) // the connection closes, no answer
	}
	if deny != nil && deny(r) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return
	}
	if _, ok := r.URL.Query()["tagging"]; ok && key != "" {
		f.tagging(w, r, bucket, key)
		return
	}
	if key != "" && (r.Method == http.MethodPut || r.Method == http.MethodDelete) {
		f.mu.Lock()
		delete(f.tags, key) // a new or deleted object has no tags
		f.mu.Unlock()
	}
	if cut != nil && r.Method == http.MethodGet && key != "" {
		if n := cut(r); n > 0 {
			w = &cutWriter{ResponseWriter: w, left: n}
		}
	}
	f.s3.ServeHTTP(w, r)
}

// cutWriter passes n body bytes, then aborts the connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) < c.left {
		c.left -= len(p)
		return c.ResponseWriter.Write(p)
	}
	_, _ = c.ResponseWriter.Write(p[:c.left])
	c.ResponseWriter.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// tagSet is S3's Tagging document.
type tagSet struct {
	XMLName xml.Name `xml:"Tagging"`
	Tags    []struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	} `xml:"TagSet>Tag"`
}

// tagging serves GET, PUT and DELETE /bucket/key?tagging.
func (f *fakeS3) tagging(w http.ResponseWriter, r *http.Request, bucket, key string) {
	if _, err := f.backend.HeadObject(bucket, key); err != nil {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>%s</Key></Error>`, key)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		var doc tagSet
		keys := make([]string, 0, len(f.tags[key]))
		for k := range f.tags[key] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			doc.Tags = append(doc.Tags, struct {
				Key   string `xml:"Key"`
				Value string `xml:"Value"`
			}{k, f.tags[key][k]})
		}
		out, _ := xml.Marshal(doc)
		w.Header().Set("Content-Type", "application/xml")
		_, _ = w.Write(out)
	case http.MethodPut:
		var doc tagSet
		if err := xml.NewDecoder(r.Body).Decode(&doc); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tags := map[string]string{}
		for _, t := range doc.Tags {
			tags[t.Key] = t.Value
		}
		f.tags[key] = tags
	case http.MethodDelete:
		delete(f.tags, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeS3) setDrop(fn func(r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop = fn
}

func (f *fakeS3) setDeny(fn func(r *http.Request) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny = fn
}

func (f *fakeS3) setCut(fn func(r *http.Request) int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = fn
}

// requests returns the requests received so far.
func (f *fakeS3) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.log...)
}

// gets counts the GETs of key's content (not its tags).
func (f *fakeS3) gets(key string) int {
	n := 0
	for _, r := range f.requests() {
		if _, tagging := r.Query["tagging"]; r.Method == http.MethodGet && r.Key == key && !tagging {
			n++
		}
	}
	return n
}

func (f *fakeS3) objectTags(key string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.tags[key] {
		out[k] = v
	}
	return out
}

// put stores an object through S3's API.
func (f *fakeS3) put(t testing.TB, key string, data []byte) {
	t.Helper()
	_, err := f.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	require.NoError(t, err)
}

// get returns an object's content; ok is false when there is none.
func (f *fakeS3) get(t testing.TB, key string) ([]byte, bool) {
	t.Helper()
	out, err := f.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	var nk *types.NoSuchKey
	if errors.As(err, &nk) {
		return nil, false
	}
	require.NoError(t, err)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return data, true
}

// exists reports whether key exists (safe outside the test goroutine).
func (f *fakeS3) exists(key string) bool {
	_, err := f.backend.HeadObject(testBucket, key)
	return err == nil
}

// etag returns an object's ETag, unquoted.
func (f *fakeS3) etag(t testing.TB, key string) string {
	t.Helper()
	out, err := f.client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	require.NoError(t, err)
	return trimETag(aws.ToString(out.ETag))
}

// keys lists every key of the bucket.
func (f *fakeS3) keys(t testing.TB) []string {
	t.Helper()
	out, err := f.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	require.NoError(t, err)
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}
