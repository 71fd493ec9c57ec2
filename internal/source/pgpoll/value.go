package pgpoll

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// payloadValue turns a value as read (pgx's decoding of the column's
// select expression) into a JSON-friendly payload value:
//
//	boolean                         → true / false
//	smallint, integer, bigint, oid  → number (exact)
//	real, double precision          → number; NaN, Infinity, -Infinity as strings
//	numeric                         → number with PostgreSQL's exact digits
//	                                  ("1.50"); NaN, Infinity as strings
//	text, varchar, char, name       → string
//	bytea                           → string, standard base64
//	timestamp, timestamptz          → string, RFC 3339 with fraction, UTC
//	                                  (timestamp without time zone is read as
//	                                  UTC); infinity, -infinity as strings
//	json, jsonb                     → the JSON itself, numbers exact
//	arrays, composite types         → their to_json() form, embedded
//	anything else (uuid, date,      → string, PostgreSQL's text form
//	interval, enums, inet, …)         (uuid: 8-4-4-4-12 hex; date: 2024-05-01)
//	NULL                            → null
func payloadValue(c column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kindNumeric:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("column %q: numeric read as %T", c.name, v)
		}
		switch s {
		case "NaN", "Infinity", "-Infinity":
			return s, nil
		}
		return json.Number(s), nil
	case kindJSON, kindToJSON:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("column %q: JSON read as %T", c.name, v)
		}
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("column %q: not valid JSON", c.name)
		}
		return json.RawMessage(s), nil
	case kindText:
		return v, nil
	}
	switch x := v.(type) {
	case bool, string, []byte, int64:
		return x, nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return floatValue(float64(x), x), nil
	case float64:
		return floatValue(x, x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case pgtype.InfinityModifier:
		return x.String(), nil
	}
	return nil, fmt.Errorf("column %q (%s): unexpected value of type %T", c.name, c.typ, v)
}

func floatValue(f float64, orig any) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return orig
}
