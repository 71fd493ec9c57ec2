package sync

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

// testTime is the version time of rec's records.
var testTime = time.Date(2024, 5, 1, 12, 0, 0, 123456000, time.UTC)

// syncConfig is a sync of source "db" (tables public.*) onto Contact by
// Ext__c = row.id, with the given further fields.
func syncConfig(fields ...config.Field) config.Sync {
	return config.Sync{
		Name:       "counselors",
		From:       "db.public.*",
		Object:     "Contact",
		ExternalID: "Ext__c",
		Fields:     append(config.Fields{{Name: "Ext__c", Expr: "row.id"}}, fields...),
		Nulls:      config.NullsSkip,
		Deletes:    config.DeletesDelete,
	}
}

func mustNew(t testing.TB, cfg config.Sync) *Sync {
	t.Helper()
	s, err := New(cfg, &config.Source{Name: cfg.SourceName(), Type: config.SourcePostgresPoll})
	require.NoError(t, err)
	return s
}

// rec is an upsert of public.counselors row id 42 with payload p.
func rec(p map[string]any) record.Record {
	r := record.Record{
		ID:         "test-1",
		Source:     "db",
		Collection: "public.counselors",
		Op:         record.OpUpsert,
		Key:        record.Key{{Name: "id", Value: json.Number("42")}},
		Version:    record.TimeVersion(testTime, 0),
		Time:       testTime.Add(time.Second),
		Payload:    p,
		Metadata:   map[string]string{"txid": "7"},
	}
	if _, ok := p["id"]; !ok && p != nil {
		p["id"] = json.Number("42")
	}
	return r
}
