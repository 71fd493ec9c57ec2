package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/deliver"
	"github.com/sfbridge/sfbridge/internal/demo"
	"github.com/sfbridge/sfbridge/internal/dlq"
	"github.com/sfbridge/sfbridge/internal/web"
)

// eventually polls cond until it returns nil, and fails the test with its
// last error when within has passed.
func eventually(t *testing.T, within time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

// diffs compares the emulator with the tables, up to limit differences.
func (b *bundle) diffs(t *testing.T, limit int) []string {
	t.Helper()
	d, err := demo.Compare(t.Context(), b.db.Pool, b.schema, b.emu.Org(), limit)
	require.NoError(t, err)
	return d
}

// deliverer returns the delivery loop of the sync name.
func (b *bundle) deliverer(t *testing.T, name string) *deliver.Deliverer {
	t.Helper()
	for _, d := range b.eng.Deliverers() {
		if d.Name() == name {
			return d
		}
	}
	t.Fatalf("no sync %q", name)
	return nil
}

// syncStatus returns the dashboard's view of the sync name.
func (b *bundle) syncStatus(t *testing.T, name string) web.SyncStatus {
	t.Helper()
	for _, s := range b.eng.Status(t.Context()).Syncs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no sync %q in the status", name)
	return web.SyncStatus{}
}

// requireNoDeadLetters checks that no sync dead-lettered anything and that
// the DLQ is empty.
func (b *bundle) requireNoDeadLetters(t *testing.T) {
	t.Helper()
	for _, d := range b.eng.Deliverers() {
		require.Zero(t, d.Stats().DeadLettered, "sync %s dead-lettered records", d.Name())
	}
	n, err := dlq.NewStore(b.eng.Queue()).Count(t.Context(), "")
	require.NoError(t, err)
	require.Zero(t, n, "DLQ entries")
}

// contactLastName returns the LastName of the Contact of a counselor, or
// an error when there is none.
func (b *bundle) contactLastName(id int) (string, error) {
	contacts, _ := b.emu.Org().Dump("Contact", false)
	for _, c := range contacts {
		if c["Counselor_Id__c"] == fmt.Sprint(id) {
			return fmt.Sprint(c["LastName"]), nil
		}
	}
	return "", fmt.Errorf("no Contact for counselor %d", id)
}
