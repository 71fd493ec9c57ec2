package sync

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/record"
)

// payload is a row with every kind of value.
func payload() map[string]any {
	return map[string]any{
		"id":      json.Number("42"),
		"email":   "  Ana@Example.COM ",
		"name":    "Zoë Ünïcödé",
		"big":     json.Number("12345678901234567890"),
		"dec":     json.Number("0.1"),
		"precise": json.Number("1234567890.123456789012"),
		"neg":     json.Number("-2.5"),
		"exp":     json.Number("1.5E3"),
		"ts":      "2024-05-01T23:30:00.123456Z",
		"pgts":    "2024-05-01 23:30:00.123456+02",
		"day":     "2024-05-01",
		"us":      "05/01/2024",
		"flag":    true,
		"none":    nil,
		"empty":   "",
		"tags":    []any{"a", "b"},
		"addr":    map[string]any{"city": "Paris"},
	}
}

// TestMapFunctions maps one field through every function and edge.
func TestMapFunctions(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		expr string
		want any
		err  string
	}{
		// Field access and missing values.
		{expr: `row.email`, want: "  Ana@Example.COM "},
		{expr: `row.none`, want: nil},
		{expr: `row.missing`, want: nil},
		{expr: `row.addr.city`, want: "Paris"},
		{expr: `row.addr.zip.code`, want: nil},
		{expr: `row.missing.deep[0]`, want: nil},
		{expr: `row["name"]`, want: "Zoë Ünïcödé"},
		{expr: `row.tags`, want: []string{"a", "b"}},
		{expr: `row.tags[5]`, err: "index out of range: 5 (array length is 2) (column 9)"},
		{expr: `row.addr`, err: "gives a map, not a value (a lookup is written {ParentExternalId__c: expression})"},
		// Text.
		{expr: `lower(trim(row.email))`, want: "ana@example.com"},
		{expr: `upper(row.name)`, want: "ZOË ÜNÏCÖDÉ"},
		{expr: `lower(row.none)`, want: nil},
		{expr: `upper(row.missing)`, want: nil},
		{expr: `upper(row.id)`, err: "upper: want text, got a number (column 1)"},
		{expr: `trim("--x--", "-")`, want: "x"},
		{expr: `trim(row.none)`, want: nil},
		{expr: `replace(row.name, "ö", "o")`, want: "Zoë Ünïcodé"},
		{expr: `split("a,b,,c", ",")`, want: []string{"a", "b", "", "c"}},
		{expr: `join(row.tags, ";")`, want: "a;b"},
		{expr: `join(row.tags)`, want: "ab"},
		{expr: `join([1, nil, "x", 2.5], "-")`, want: "1-x-2.5"},
		{expr: `join(row.name, ",")`, err: "join: want a list, got text (column 1)"},
		{expr: `substr(row.name, 0, 3)`, want: "Zoë"},
		{expr: `substr(row.name, 4)`, want: "Ünïcödé"},
		{expr: `substr(row.name, -3)`, want: "ödé"},
		{expr: `substr(row.name, 100)`, want: ""},
		{expr: `substr(row.name, 2, 100)`, want: "ë Ünïcödé"},
		{expr: `substr(row.name, 0, -1)`, err: "substr: length -1 is negative (column 1)"},
		{expr: `substr(row.none, 1)`, want: nil},
		{expr: `len(row.name)`, want: 11},
		{expr: `len(row.tags)`, want: 2},
		{expr: `len(row.none)`, want: 0},
		{expr: `len(row.id)`, err: "len: want text or a list, got a number (column 1)"},
		{expr: `concat(row.name, " <", row.none, ">")`, want: "Zoë Ünïcödé <>"},
		{expr: `concat("#", row.id, "/", row.dec, "/", row.flag)`, want: "#42/0.1/true"},
		{expr: `concat(row.none, row.missing)`, want: nil},
		{expr: `concat(row.tags)`, err: "concat: argument 1 is a list, not a value (column 1)"},
		{expr: `string(row.big)`, want: "12345678901234567890"},
		{expr: `string(row.exp)`, want: "1500"},
		{expr: `string(row.none)`, want: nil},
		{expr: `row.email contains "@"`, want: true},
		{expr: `row.name startsWith "Zo"`, want: true},
		{expr: `row.name endsWith "é"`, want: true},
		{expr: `row.name matches "^Z.ë"`, want: true},
		// Numbers keep their precision.
		{expr: `row.id`, want: 42},
		{expr: `row.big`, want: json.Number("12345678901234567890")},
		{expr: `row.dec`, want: 0.1},
		{expr: `row.precise`, want: json.Number("1234567890.123456789012")},
		{expr: `row.exp`, want: 1500},
		{expr: `row.id * 2`, want: 84},
		{expr: `row.id / 8`, want: 5.25},
		{expr: `row.dec + 0.2`, want: 0.30000000000000004},
		{expr: `1 / 0`, err: "+Inf is not a number Salesforce can store"},
		{expr: `toNumber("007")`, want: 7},
		{expr: `toNumber(" 1.50 ")`, want: 1.5},
		{expr: `toNumber("-1e2")`, want: -100},
		{expr: `toNumber("12345678901234567890.5")`, want: json.Number("12345678901234567890.5")},
		{expr: `toNumber(row.precise)`, want: json.Number("1234567890.123456789012")},
		{expr: `toNumber("")`, want: nil},
		{expr: `toNumber(row.none)`, want: nil},
		{expr: `toNumber("abc")`, err: `toNumber: "abc" is not a number (column 1)`},
		{expr: `toNumber("0x10")`, err: `toNumber: "0x10" is not a number (column 1)`},
		{expr: `toNumber("1e999")`, err: `toNumber: "1e999": exponent out of range (±400) (column 1)`},
		{expr: `toNumber(true)`, err: "toNumber: want a number, got true/false (column 1)"},
		{expr: `int("12.9")`, want: 12},
		{expr: `int(row.neg)`, want: -2},
		{expr: `int(true)`, want: 1},
		{expr: `int("")`, want: nil},
		{expr: `int(row.big)`, err: "int: 12345678901234567890 is out of range (column 1)"},
		{expr: `float("1.25")`, want: 1.25},
		{expr: `float(row.id)`, want: 42.0},
		{expr: `round(2.675, 2)`, want: 2.68},
		{expr: `round(row.neg)`, want: -3},
		{expr: `round(2.5)`, want: 3},
		{expr: `round(row.precise, 3)`, want: 1234567890.123},
		{expr: `round(row.precise, 12)`, want: json.Number("1234567890.123456789012")},
		{expr: `round(row.none, 2)`, want: nil},
		{expr: `round(1.5, -1)`, err: "round: places -1 is outside 0–30 (column 1)"},
		{expr: `abs(row.neg)`, want: 2.5},
		{expr: `max(row.id, 50)`, want: 50},
		// Dates and times.
		{expr: `parseTime(row.ts)`, want: at("2024-05-01T23:30:00.123456Z")},
		{expr: `parseTime(row.pgts)`, want: at("2024-05-01T23:30:00.123456+02:00")},
		{expr: `parseTime(row.empty)`, want: nil},
		{expr: `parseTime("nope")`, err: `parseTime: "nope" is not a date or time (give a layout, e.g. parseTime(x, "02/01/2006")) (column 1)`},
		{expr: `parseTime(row.us, "2006-01-02")`, err: `parseTime: "05/01/2024" does not match layout "2006-01-02" (column 1)`},
		{expr: `parseTime(row.ts, "", "Local")`, err: `parseTime: time zone "Local" depends on the machine; name a zone such as Europe/Paris (column 1)`},
		{expr: `parseTime(row.day, "", "Mars/Olympus")`, err: `parseTime: unknown time zone "Mars/Olympus" (column 1)`},
		{expr: `parseTime(row.id)`, err: "parseTime: want text or a time, got a number (column 1)"},
		{expr: `formatDateTime(row.ts)`, want: "2024-05-01T23:30:00.123Z"},
		{expr: `formatDateTime(row.pgts)`, want: "2024-05-01T21:30:00.123Z"},
		{expr: `formatDateTime(row.day)`, want: "2024-05-01T00:00:00.000Z"},
		{expr: `formatDateTime(parseTime("2024-05-01 09:00", "2006-01-02 15:04", "America/New_York"))`, want: "2024-05-01T13:00:00.000Z"},
		{expr: `formatDateTime(row.none)`, want: nil},
		{expr: `formatDate(row.pgts)`, want: "2024-05-01"},
		{expr: `formatDate(row.ts)`, want: "2024-05-01"},
		{expr: `formatDate(row.ts, "Asia/Tokyo")`, want: "2024-05-02"},
		{expr: `formatDate(row.day)`, want: "2024-05-01"},
		{expr: `formatDate(parseTime(row.us, "01/02/2006"))`, want: "2024-05-01"},
		{expr: `formatDate(row.empty)`, want: nil},
		{expr: `formatTime(row.ts, "02.01.2006 15:04")`, want: "01.05.2024 23:30"},
		{expr: `formatTime(row.ts, "15:04 MST", "Europe/Paris")`, want: "01:30 CEST"},
		{expr: `parseTime(row.ts).Year()`, want: 2024},
		{expr: `duration("90m").Minutes()`, want: 90.0},
		// Coalesce and conditionals.
		{expr: `coalesce(row.none, row.missing, "x")`, want: "x"},
		{expr: `coalesce(row.none)`, want: nil},
		{expr: `coalesce(row.empty, "x")`, want: ""},
		{expr: `row.none ?? "d"`, want: "d"},
		{expr: `row.flag ? "Y" : "N"`, want: "Y"},
		{expr: `row.id > 40 and row.flag`, want: true},
		{expr: `"b" in row.tags`, want: true},
		// The record and event views.
		{expr: `event.type`, want: "public.counselors"},
		{expr: `event.id`, want: 42},
		{expr: `event.time`, want: "2024-05-01T12:00:00.123456Z"},
		{expr: `event.email`, want: "  Ana@Example.COM "},
		{expr: `record.source`, want: "db"},
		{expr: `record.collection`, want: "public.counselors"},
		{expr: `record.op`, want: "upsert"},
		{expr: `record.key.id`, want: 42},
		{expr: `record.time`, want: "2024-05-01T12:00:01.123456Z"},
		{expr: `record.version`, want: "time:2024-05-01T12:00:00.123456Z"},
		{expr: `record.metadata.txid`, want: "7"},
		{expr: `record.metadata.nope`, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			t.Parallel()
			cfg := syncConfig(config.Field{Name: "Out__c", Expr: tt.expr})
			cfg.Nulls = config.NullsWrite
			s := mustNew(t, cfg)
			a, err := s.Map(rec(payload()))
			if tt.err != "" {
				require.Error(t, err)
				var me *MapError
				require.ErrorAs(t, err, &me)
				require.Equal(t, "fields.Out__c", me.Path)
				require.Equal(t, tt.expr, me.Expr)
				require.Equal(t, tt.err, me.Err.Error())
				require.True(t, failure.IsPermanent(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, Upsert, a.Kind)
			require.Contains(t, a.Fields, "Out__c")
			require.Equal(t, tt.want, a.Fields["Out__c"])
		})
	}
}

func TestMapIsDeterministicAndLeavesTheRecordAlone(t *testing.T) {
	t.Parallel()
	s := mustNew(t, syncConfig(
		config.Field{Name: "Email", Expr: "lower(trim(row.email))"},
		config.Field{Name: "Big__c", Expr: "row.big"},
		config.Field{Name: "When__c", Expr: "formatDateTime(row.ts)"},
	))
	p := payload()
	r := rec(p)
	first, err := s.Map(r)
	require.NoError(t, err)
	for range 3 {
		again, err := s.Map(r)
		require.NoError(t, err)
		require.Equal(t, first, again)
	}
	require.Equal(t, payload(), p, "Map must not change the payload")
}

func TestMapNulls(t *testing.T) {
	t.Parallel()
	fields := []config.Field{
		{Name: "Email", Expr: "row.none"},
		{Name: "Phone", Expr: "row.missing"},
		{Name: "Title", Expr: "row.empty"},
		{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "row.none"},
		{Name: "Parent__r", ParentExternalID: "Ext__c", Expr: "row.empty"},
		{Name: "ReportsTo", ParentExternalID: "Ext__c", Expr: "row.addr.city"},
	}
	tests := []struct {
		nulls config.Nulls
		want  map[string]any
	}{
		{config.NullsSkip, map[string]any{
			"Ext__c": 42, "Title": "", "ReportsTo": map[string]any{"Ext__c": "Paris"},
		}},
		{config.NullsWrite, map[string]any{
			"Ext__c": 42, "Email": nil, "Phone": nil, "Title": "", "AccountId": nil, "Parent__c": nil,
			"ReportsTo": map[string]any{"Ext__c": "Paris"},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.nulls), func(t *testing.T) {
			t.Parallel()
			cfg := syncConfig(fields...)
			cfg.Nulls = tt.nulls
			a, err := mustNew(t, cfg).Map(rec(payload()))
			require.NoError(t, err)
			require.Equal(t, tt.want, a.Fields)
		})
	}
}

func TestMapLookupValue(t *testing.T) {
	t.Parallel()
	s := mustNew(t, syncConfig(config.Field{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "row.flag"}))
	_, err := s.Map(rec(payload()))
	require.EqualError(t, err, "sync counselors: fields.Account.Org_Id__c = `row.flag`: the parent's Org_Id__c must be text or a number, got true/false")

	s = mustNew(t, syncConfig(config.Field{Name: "Account", ParentExternalID: "Org_Id__c", Expr: "row.big"}))
	a, err := s.Map(rec(payload()))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"Org_Id__c": json.Number("12345678901234567890")}, a.Fields["Account"])
}

func TestMapExternalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value   any
		key     string
		sent    any
		wantErr string
	}{
		{value: json.Number("42"), key: "42", sent: 42},
		{value: json.Number("1.5E3"), key: "1500", sent: 1500},
		{value: json.Number("-0.50"), key: "-0.5", sent: -0.5},
		{value: json.Number("12345678901234567890.10"), key: "12345678901234567890.1", sent: json.Number("12345678901234567890.1")},
		{value: "ABC-é", key: "ABC-é", sent: "ABC-é"},
		{value: " x ", key: " x ", sent: " x "},
		{value: nil, wantErr: "the external ID Ext__c is null"},
		{value: "", wantErr: "the external ID Ext__c is empty"},
		{value: "  ", wantErr: "the external ID Ext__c is empty"},
		{value: true, wantErr: "the external ID Ext__c must be text or a number, got true/false"},
		{value: []any{"a"}, wantErr: "the external ID Ext__c must be text or a number, got a list"},
	}
	for _, tt := range tests {
		t.Run(keyName(tt.value), func(t *testing.T) {
			t.Parallel()
			cfg := syncConfig()
			cfg.Fields[0].Expr = "row.code"
			s := mustNew(t, cfg)
			a, err := s.Map(rec(map[string]any{"code": tt.value}))
			if tt.wantErr != "" {
				require.EqualError(t, err, "sync counselors: fields.Ext__c = `row.code`: "+tt.wantErr)
				require.True(t, failure.IsPermanent(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.key, a.Key)
			require.Equal(t, tt.sent, a.KeyValue)
			require.Equal(t, tt.sent, a.Fields["Ext__c"])
		})
	}
}

func keyName(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMapFilters(t *testing.T) {
	t.Parallel()
	cfg := syncConfig()
	cfg.When = `row.active`
	s := mustNew(t, cfg)
	tests := []struct {
		name   string
		edit   func(*record.Record)
		kind   ActionKind
		reason string
	}{
		{"active", func(r *record.Record) { r.Payload["active"] = true }, Upsert, ""},
		{"inactive", func(r *record.Record) { r.Payload["active"] = false }, Skip, "when is false"},
		{"when null", func(r *record.Record) {}, Skip, "when is null"},
		{"other source", func(r *record.Record) { r.Source = "crm" }, Skip, `record of source "crm", not "db"`},
		{"other schema", func(r *record.Record) { r.Collection = "audit.counselors" }, Skip, `collection "audit.counselors" does not match "public.*"`},
		{"glob star spans dots", func(r *record.Record) { r.Collection = "public.a.b"; r.Payload["active"] = true }, Upsert, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rec(map[string]any{})
			tt.edit(&r)
			a, err := s.Map(r)
			require.NoError(t, err)
			require.Equal(t, tt.kind, a.Kind)
			require.Equal(t, tt.reason, a.Reason)
			require.Equal(t, r.Version, a.Version)
			if tt.kind == Skip {
				require.Empty(t, a.Key)
				require.Nil(t, a.Fields)
			}
		})
	}

	cfg.When = `row.name`
	_, err := mustNew(t, cfg).Map(rec(payload()))
	require.EqualError(t, err, "sync counselors: when = `row.name`: gives text, not true or false")
}

func TestMapDeletes(t *testing.T) {
	t.Parallel()
	cfg := syncConfig(config.Field{Name: "LastName", Expr: "upper(row.name)"})
	cfg.When = `row.kind == "staff"`
	del := func(p map[string]any) record.Record {
		r := rec(p)
		r.Op = record.OpDelete
		r.Key = record.Key{{Name: "id", Value: json.Number("7")}}
		return r
	}

	s := mustNew(t, cfg)
	// No payload: only the key is known; `when` cannot apply.
	a, err := s.Map(del(nil))
	require.NoError(t, err)
	require.Equal(t, Action{Kind: Delete, Key: "7", KeyValue: 7, Version: a.Version}, a)
	// A soft delete carries the row: `when` applies.
	a, err = s.Map(del(map[string]any{"id": json.Number("7"), "kind": "staff"}))
	require.NoError(t, err)
	require.Equal(t, Delete, a.Kind)
	a, err = s.Map(del(map[string]any{"id": json.Number("7"), "kind": "guest"}))
	require.NoError(t, err)
	require.Equal(t, Skip, a.Kind)

	cfg.Deletes = config.DeletesIgnore
	a, err = mustNew(t, cfg).Map(del(nil))
	require.NoError(t, err)
	require.Equal(t, Skip, a.Kind)
	require.Equal(t, "delete ignored (deletes: ignore)", a.Reason)
}

func TestMapRecordProblems(t *testing.T) {
	t.Parallel()
	s := mustNew(t, syncConfig())
	r := rec(nil)
	_, err := s.Map(r)
	require.EqualError(t, err, "sync counselors: record test-1: a upsert has no payload")
	require.True(t, failure.IsPermanent(err))
	var me *MapError
	require.True(t, errors.As(err, &me))
	require.Empty(t, me.Path)

	r = rec(map[string]any{})
	r.Op = "merge"
	_, err = s.Map(r)
	require.EqualError(t, err, `sync counselors: record test-1: unknown op "merge"`)
}

func TestMapKeyFieldsFillTheRow(t *testing.T) {
	t.Parallel()
	cfg := syncConfig(config.Field{Name: "Name__c", Expr: `concat(row.tenant, "/", row.no)`})
	cfg.Fields[0].Expr = `concat(row.tenant, "-", row.no)`
	s := mustNew(t, cfg)
	r := rec(map[string]any{"no": json.Number("1")})
	delete(r.Payload, "id")
	r.Key = record.Key{{Name: "tenant", Value: "acme"}, {Name: "no", Value: json.Number("1")}}
	a, err := s.Map(r)
	require.NoError(t, err)
	require.Equal(t, "acme-1", a.Key)
	require.Equal(t, "acme/1", a.Fields["Name__c"])

	cfg.Fields = config.Fields{{Name: "Ext__c", Expr: "event.id"}}
	a, err = mustNew(t, cfg).Map(r)
	require.NoError(t, err)
	require.Equal(t, `[["tenant","acme"],["no",1]]`, a.Key)
}

// TestMapConcurrently: a Sync is shared by a sync's workers.
func TestMapConcurrently(t *testing.T) {
	t.Parallel()
	s := mustNew(t, contactSync())
	want, err := s.Map(rec(map[string]any{"last_name": "Ng", "email": "A@B.C", "seen": "2024-05-01T10:00:00Z", "languages": "English"}))
	require.NoError(t, err)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				got, err := s.Map(rec(map[string]any{"last_name": "Ng", "email": "A@B.C", "seen": "2024-05-01T10:00:00Z", "languages": "English"}))
				if err == nil && !equalActions(got, want) {
					err = errors.New("a concurrent Map gave another action")
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}

func equalActions(a, b Action) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
