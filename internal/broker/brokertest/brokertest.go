// Package brokertest opens brokers for tests: an embedded one in a temporary
// directory, and the external nats-server the project's machines run.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

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
	return b
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
