// Package brokertest opens brokers for tests: an embedded one in a temporary
// directory, and the external nats-server the project's machines run.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/broker"
)

// DefaultExternalURL is the nats-server (JetStream on) of the project's machines.
const DefaultExternalURL = "nats://127.0.0.1:4222"

// ExternalURL is SFBRIDGE_TEST_NATS_URL or DefaultExternalURL.
func ExternalURL() string {
	if u := os.Getenv("SFBRIDGE_TEST_NATS_URL"); u != "" {
		return u
	}
	return DefaultExternalURL
}

// Embedded opens an embedded broker storing under dir (use t.TempDir(), or
// the same dir twice to test a restart). The caller closes it; a t.Cleanup
// closes it too if the test did not.
func Embedded(t testing.TB, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{URL: broker.Embedded, DataDir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// External connects to the external nats-server. When it cannot be reached the
// test fails and says how to start it.
func External(t testing.TB) *broker.Broker {
	t.Helper()
	b, err := broker.Open(context.Background(), broker.Options{URL: ExternalURL()})
	if err != nil {
		t.Fatalf("external NATS at %s: %v\nstart it with: scripts/services.sh (or set SFBRIDGE_TEST_NATS_URL)", ExternalURL(), err)
	}
	t.Cleanup(func() { _ = b.Close() })
	keepAccountDir(t, b)
	return b
}

// keepAccountDir works around a nats-server race (server/stream.go, still in
// 2.15): after deleting a stream the server removes the account's streams
// directory in a goroutine if it is empty, which can make a concurrent stream
// create fail with "could not create storage directory" (10049). On the
// shared test server, where tests create and delete streams all the time, one
// stream that is never deleted keeps that directory from emptying.
func keepAccountDir(t testing.TB, b *broker.Broker) {
	t.Helper()
	_, err := b.JetStream().CreateStream(context.Background(), jetstream.StreamConfig{
		Name:        "SFBRIDGE_TEST_ANCHOR",
		Description: "kept on purpose: see keepAccountDir in internal/broker/brokertest",
		Subjects:    []string{"sfbridge_test_anchor"},
		Storage:     jetstream.FileStorage,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		require.NoError(t, err)
	}
}

// Prefix returns a unique name prefix ("T" + 8 hex chars) so tests sharing an
// external server never see each other's streams, consumers or buckets.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "T" + hex.EncodeToString(b[:])
}
