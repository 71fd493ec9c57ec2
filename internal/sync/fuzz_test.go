package sync

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/record"
)

// fuzzSync uses every function on payload fields of any type.
func fuzzSync(t testing.TB, nulls config.Nulls) *Sync {
	cfg := config.Sync{
		Name: "fuzz", From: "db", Object: "Contact", ExternalID: "Ext__c",
		When: `row.skip != true`, Nulls: nulls, Deletes: config.DeletesDelete,
		Fields: config.Fields{
			{Name: "Ext__c", Expr: "row.id"},
			{Name: "A__c", Expr: "lower(row.a)"},
			{Name: "B__c", Expr: "upper(trim(row.b))"},
			{Name: "C__c", Expr: `replace(row.c, "a", "b")`},
			{Name: "D__c", Expr: `join(split(row.d, ","), ";")`},
			{Name: "E__c", Expr: "substr(row.e, row.n, row.m)"},
			{Name: "F__c", Expr: "len(row.f)"},
			{Name: "G__c", Expr: "concat(row.a, row.n, row.g)"},
			{Name: "H__c", Expr: "toNumber(row.h)"},
			{Name: "I__c", Expr: "int(row.i)"},
			{Name: "J__c", Expr: "float(row.j)"},
			{Name: "K__c", Expr: "round(row.k, row.n)"},
			{Name: "L__c", Expr: "formatDate(row.l)"},
			{Name: "M__c", Expr: "formatDateTime(parseTime(row.m2))"},
			{Name: "N__c", Expr: "coalesce(row.x, row.y, row.z)"},
			{Name: "O__c", Expr: "row.o ?? row.p"},
			{Name: "P__c", Expr: "row.q.r.s"},
			{Name: "Q__c", Expr: "row.n > 0 ? row.a : row.b"},
			{Name: "R__c", Expr: "string(row.r)"},
			{Name: "S__c", Expr: "row.n * 2"},
			{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "row.org"},
		},
	}
	s, err := New(cfg, nil)
	require.NoError(t, err)
	return s
}

// FuzzMap: Map never panics, whatever the payload, and what it returns is
// consistent: an error is a *MapError; an upsert has a non-empty key and
// sends it as the external ID.
func FuzzMap(f *testing.F) {
	for _, seed := range []string{
		`{"id": 1, "a": "X", "b": " y ", "d": "a,b", "e": "héllo", "n": 1, "m": 2, "h": "1.50", "i": "7.9", "j": 2, "k": 2.675, "l": "2024-05-01", "m2": "2024-05-01T10:00:00Z", "org": "O-1"}`,
		`{"id": "k", "a": 1, "b": [], "c": {}, "d": null, "e": "x", "n": -5, "m": -1}`,
		`{"id": 12345678901234567890123, "k": 1e300, "n": 31, "h": "1e999", "i": 1e30}`,
		`{"id": "", "skip": false}`,
		`{"id": true}`,
		`{"id": 0.1, "q": {"r": {"s": "deep"}}, "x": null, "y": "y"}`,
		`{"id": "x", "l": "not a date", "m2": 5, "r": {"a": 1}}`,
		`{"id": "x", "n": 9223372036854775807, "m": 9223372036854775807, "e": "abc"}`,
		`{"id": -0, "skip": true}`,
	} {
		f.Add([]byte(seed), false)
	}
	skip, write := fuzzSync(f, config.NullsSkip), fuzzSync(f, config.NullsWrite)
	f.Fuzz(func(t *testing.T, data []byte, del bool) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var payload map[string]any
		if dec.Decode(&payload) != nil || payload == nil {
			return
		}
		r := record.Record{
			ID: "f", Source: "db", Collection: "public.t", Op: record.OpUpsert,
			Key: record.Key{{Name: "id", Value: "k"}}, Payload: payload,
		}
		if del {
			r.Op = record.OpDelete
		}
		for _, s := range []*Sync{skip, write} {
			a, err := s.Map(r)
			if err != nil {
				var me *MapError
				require.ErrorAs(t, err, &me)
				continue
			}
			switch a.Kind {
			case Skip:
				require.NotEmpty(t, a.Reason)
			case Delete:
				require.True(t, del)
				require.NotEmpty(t, a.Key)
			case Upsert:
				require.False(t, del)
				require.NotEmpty(t, a.Key)
				require.Equal(t, a.KeyValue, a.Fields["Ext__c"])
				for name, v := range a.Fields {
					if s == skip {
						require.NotNil(t, v, name)
					}
				}
			default:
				t.Fatalf("kind %v", a.Kind)
			}
		}
	})
}
