package s3src

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/source"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// New reports every problem of the options at once, each naming the
// source and the setting.
func TestNewReportsEveryProblem(t *testing.T) {
	t.Parallel()
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Bucket = ""
	cfg.Every = 0
	cfg.Mark = "flag"
	cfg.QuarantinePrefix = ""
	cfg.Format = "xml"
	cfg.IDField = ""
	_, err := New(Options{Name: "b", Config: cfg, BatchSize: -1, SQSWait: time.Minute})
	require.Error(t, err)
	for _, want := range []string{
		"s3src: source b: queue is required",
		"s3src: source b: dlq is required",
		"s3src: source b: state is required",
		"s3src: source b: bucket is required",
		"s3src: source b: every must be positive, got 0s",
		`s3src: source b: mark "flag" is not state, move or tag`,
		"s3src: source b: quarantine_prefix is required",
		`s3src: source b: format "xml" is not auto, ndjson, json or csv`,
		"s3src: source b: event spec: the id field is required",
		"s3src: source b: batch size must not be negative, got -1",
		"s3src: source b: SQS wait must be from 0 to 20s, got 1m0s",
	} {
		require.ErrorContains(t, err, want)
	}

	b := setup(t, false)
	for name, edit := range map[string]func(*config.S3){
		`prefix "sfbridge/processed/in/" lies under processed_prefix "sfbridge/processed/"`: func(c *config.S3) { c.Prefix = "sfbridge/processed/in/" },
		`prefix "q/x" lies under quarantine_prefix "q/"`:                                    func(c *config.S3) { c.Prefix, c.QuarantinePrefix = "q/x", "q/" },
		"processed_prefix is required with mark: move":                                      func(c *config.S3) { c.Mark, c.ProcessedPrefix = config.MarkMove, "" },
		`processed_prefix and quarantine_prefix are both "p/"`:                              func(c *config.S3) { c.Mark, c.ProcessedPrefix, c.QuarantinePrefix = config.MarkMove, "p/", "p/" },
	} {
		opts := b.opts
		edit(&opts.Config)
		_, err := New(opts)
		require.ErrorContains(t, err, name)
	}
}

// Trigger runs a full listing now; it takes no collection, and needs a
// running source.
func TestTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	src, err := New(b.opts)
	require.NoError(t, err)
	_, err = src.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)

	b.start(t)
	_, err = b.src.Trigger("orders")
	require.ErrorIs(t, err, source.ErrUnknownCollection)
	b.s3.put(t, "in/late.ndjson", ndjson(ev("l1", "order")))
	cols, err := b.src.Trigger("")
	require.NoError(t, err)
	require.Empty(t, cols)
	require.Equal(t, []string{"l1"}, eventIDs(b.drain(t, 1)))
	eventually(t, "the triggered run is counted", func() bool { return b.src.Stats().FullListings == 2 })

	b.stop(t)
	_, err = b.src.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)
	require.NoError(t, b.src.Stop(context.Background()), "Stop twice is harmless")
	require.Error(t, b.src.Start(context.Background()), "a stopped source does not start again")
}

// The state values are a persisted format: golden files pin it.
func TestStateValuesGolden(t *testing.T) {
	t.Parallel()
	ck := Checkpoint{Key: "in/2024/05/orders.ndjson.gz", ETag: "9b2cf535f27731c974343645a3985328", Items: 1500, Events: 1497, Complete: true, Marked: true, Updated: testNow}
	lst := Listing{Prefix: "in/", After: "in/2024/05/orders.ndjson.gz"}
	for name, v := range map[string]interface{ Marshal() ([]byte, error) }{"checkpoint_v1.json": ck, "listing_v1.json": lst} {
		got, err := v.Marshal()
		require.NoError(t, err)
		path := filepath.Join("testdata", name)
		if *update {
			require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "missing golden file; run go test ./internal/source/s3src -run Golden -update")
		require.Equal(t, string(want), string(got)+"\n", "the %s format changed: bump FormatVersion and read the old one, or run -update if intended", name)
	}
	data, err := os.ReadFile("testdata/checkpoint_v1.json")
	require.NoError(t, err)
	back, err := ParseCheckpoint(data)
	require.NoError(t, err)
	require.Equal(t, ck, back)
	data, err = os.ReadFile("testdata/listing_v1.json")
	require.NoError(t, err)
	lback, err := ParseListing(data)
	require.NoError(t, err)
	require.Equal(t, lst, lback)

	for _, bad := range []struct{ value, err string }{
		{`{"kind":"s3.object","v":1,"pos":{"key":"","etag":"x","items":0,"events":0,"complete":false,"marked":false,"updated":"2024-05-01T12:30:00Z"}}`, "key: required"},
		{`{"kind":"s3.object","v":1,"pos":{"key":"k","etag":"x","items":1,"events":2,"complete":false,"marked":false,"updated":"2024-05-01T12:30:00Z"}}`, "items 1, events 2"},
		{`{"kind":"s3.object","v":2,"pos":{}}`, "version 2 is not supported"},
		{`{"kind":"pgpoll","v":1,"pos":{}}`, `written by a "pgpoll" source`},
	} {
		_, err := ParseCheckpoint([]byte(bad.value))
		require.ErrorContains(t, err, bad.err)
	}
	require.Equal(t, "s3/bucket/object/173c324e0b328b91981f600a834a845231ba43019e6bf7b79b93d9b10187b919", ObjectKey("bucket", "in/a.ndjson"))
	require.Len(t, ObjectKey("bucket", string(make([]byte, 1024))), len("s3/bucket/object/")+64, "any S3 key fits a state key")
	require.Equal(t, "s3/bucket/listing", ListingKey("bucket"))
}

func TestCopySource(t *testing.T) {
	t.Parallel()
	require.Equal(t, "events/in/a%20b%2Bc%3D%26%25.json", copySource("events", "in/a b+c=&%.json"))
	require.Equal(t, "events/in/%C3%A9t%C3%A9~_-.csv", copySource("events", "in/été~_-.csv"))
}

func TestSQSEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct{ url, endpoint, region, err string }{
		{"https://sqs.eu-west-1.amazonaws.com/123456789012/q", "", "eu-west-1", ""},
		{"https://eu-west-2.queue.amazonaws.com/123456789012/q", "", "eu-west-2", ""},
		{"https://sqs.cn-north-1.amazonaws.com.cn/1/q", "", "cn-north-1", ""},
		{"https://vpce-1.sqs.us-east-1.vpce.amazonaws.com/1/q", "", "", ""},
		{"http://127.0.0.1:9324/000000000000/q", "http://127.0.0.1:9324", "", ""},
		{"sqs", "", "", "is not an SQS queue URL"},
	}
	for _, tt := range tests {
		endpoint, region, err := sqsEndpoint(tt.url)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tt.endpoint, endpoint, tt.url)
		require.Equal(t, tt.region, region, tt.url)
	}
}

// The errors no retry cures are told apart from outages.
func TestConfigProblem(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		"NoSuchBucket":                 "no such bucket",
		"AccessDenied":                 "access denied",
		"InvalidAccessKeyId":           "the credentials are refused",
		"SignatureDoesNotMatch":        "the credentials are refused",
		"PermanentRedirect":            "another region",
		"AuthorizationHeaderMalformed": "another region",
		"SlowDown":                     "",
		"InternalError":                "",
	} {
		require.Contains(t, configProblem(fmt.Errorf("list: %w", &smithy.GenericAPIError{Code: code})), want, code)
		if want == "" {
			require.Empty(t, configProblem(&smithy.GenericAPIError{Code: code}), code)
		}
	}
	require.Empty(t, configProblem(errors.New("dial tcp 127.0.0.1:1: connection refused")))
}
