package record_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/record"
)

// newRecord returns a valid upsert with its derived ID; mod edits it first.
func newRecord(t *testing.T, mod func(*record.Record)) record.Record {
	t.Helper()
	r := record.Record{
		Source:     "platform_db",
		Collection: "public.counselors",
		Op:         record.OpUpsert,
		Key:        record.Key{{Name: "id", Value: 42}},
		Version:    record.LSNVersion(0x16_B374D848, 0),
		Time:       time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC),
		Payload:    map[string]any{"id": 42},
	}
	if mod != nil {
		mod(&r)
	}
	if r.ID == "" {
		id, err := r.DerivedID()
		require.NoError(t, err)
		r.ID = id
	}
	return r
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*record.Record)
		errs []string
	}{
		{"valid", nil, nil},
		{"delete without payload", func(r *record.Record) { r.Op, r.Payload = record.OpDelete, nil }, nil},
		{"empty payload is a payload", func(r *record.Record) { r.Payload = map[string]any{} }, nil},
		{"everything missing", func(r *record.Record) { *r = record.Record{ID: "x"} },
			[]string{"source: required", "collection: required", `op: "" is not`, "key: at least one field", "version: required", "time: required"}},
		{"payload required for upsert", func(r *record.Record) { r.Payload = nil }, []string{"payload: required for upsert"}},
		{"id with a space", func(r *record.Record) { r.ID = "a b" }, []string{"id: byte 1 is not printable ASCII"}},
		{"id too long", func(r *record.Record) { r.ID = string(make([]byte, 129)) }, []string{"id: 129 bytes, longer than 128"}},
		{"bad op", func(r *record.Record) { r.Op = "merge" }, []string{`op: "merge" is not insert, update, upsert or delete`}},
		{"invalid utf-8 source", func(r *record.Record) { r.Source = "\xff" }, []string{"source: not valid UTF-8"}},
		{"lsn 0", func(r *record.Record) { r.ID, r.Version = "x", record.LSNVersion(0, 1) }, []string{"version: lsn 0/0 is not a valid LSN"}},
		{"bad payload value", func(r *record.Record) { r.Payload = map[string]any{"c": make(chan int)} }, []string{"payload.c: unsupported type chan int"}},
		{"bad metadata", func(r *record.Record) { r.Metadata = map[string]string{"k": "\xfe"} }, []string{`metadata: "k" is not valid UTF-8`}},
		{"time out of range", func(r *record.Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"time: year 10000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRecord(t, tt.mod)
			err := r.Validate()
			if tt.errs == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tt.errs {
				require.ErrorContains(t, err, e)
			}
		})
	}
}

func TestOpValid(t *testing.T) {
	t.Parallel()
	for _, op := range []record.Op{record.OpInsert, record.OpUpdate, record.OpUpsert, record.OpDelete} {
		require.True(t, op.Valid(), op)
	}
	require.False(t, record.Op("").Valid())
	require.False(t, record.Op("Insert").Valid())
}

func TestLogValueHidesPayload(t *testing.T) {
	t.Parallel()
	r := newRecord(t, func(r *record.Record) { r.Payload = map[string]any{"email": "secret@example.com"} })
	s := r.LogValue().String()
	require.Contains(t, s, r.ID)
	require.Contains(t, s, `[["id",42]]`)
	require.Contains(t, s, "lsn:16/B374D848")
	require.NotContains(t, s, "secret@example.com")
}
