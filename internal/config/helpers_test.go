package config

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// testEnv is the environment the tests resolve ${env:…} against.
var testEnv = map[string]string{
	"SF_CLIENT_ID":          "3MVG9-client-id",
	"SF_CLIENT_SECRET":      "sf-secret-value-1234",
	"DATABASE_URL":          "postgres://sfbridge:db-password-5678@db.internal:5432/platform",
	"SFBRIDGE_INGEST_TOKEN": "ingest-token-9012",
	"ALERT_WEBHOOK_URL":     "https://hooks.slack.com/services/T000/B000/webhook-secret-3456",
	"SFBRIDGE_ADMIN_TOKEN":  "admin-token-7890",
	"EMPTY":                 "",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// testOptions resolves references against testEnv and an in-memory file
// system (falling back to the real one for testdata and examples).
func testOptions(files map[string]string) Options {
	return Options{
		LookupEnv: lookup(testEnv),
		ReadFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			if strings.HasPrefix(p, "/secrets/") {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}
			return os.ReadFile(p)
		},
	}
}

// baseYAML is a small valid config the table tests patch.
const baseYAML = `
version: 1
salesforce:
  login_url: https://acme.my.salesforce.com
  auth:
    flow: client_credentials
    client_id: ${env:SF_CLIENT_ID}
    client_secret: ${env:SF_CLIENT_SECRET}
sources:
  - name: db
    type: postgres_poll
    dsn: ${env:DATABASE_URL}
    tables:
      - {table: public.counselors, key: id, cursor: updated_at}
  - name: events
    type: files
    path: /var/spool/events
syncs:
  - name: counselors
    from: db.public.counselors
    object: Contact
    external_id: Counselor_Id__c
    fields:
      Counselor_Id__c: row.id
      LastName: row.last_name
`

// patched merges patch (YAML) into baseYAML: mappings merge key by key, a
// list or scalar in the patch replaces the base's; a key whose patch value
// is "DELETE" is removed.
func patched(t *testing.T, patch string) []byte {
	t.Helper()
	var base, p map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(baseYAML), &base))
	require.NoError(t, yaml.Unmarshal([]byte(patch), &p))
	merge(base, p)
	out, err := yaml.Marshal(base)
	require.NoError(t, err)
	return out
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if v == "DELETE" {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			dm = maps.Clone(dm)
			merge(dm, sm)
			dst[k] = dm
			continue
		}
		dst[k] = v
	}
}

// problems parses data and returns its problems ("path: message" without
// lines), failing if the error is not a *Problems.
func problems(t *testing.T, data []byte, opts Options) []Problem {
	t.Helper()
	_, err := Parse(data, opts)
	require.Error(t, err, "expected problems in:\n%s", data)
	var probs *Problems
	require.True(t, errors.As(err, &probs), "not a *Problems: %v", err)
	return probs.List
}
