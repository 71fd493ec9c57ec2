package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBaseIsValid(t *testing.T) {
	t.Parallel()
	c, err := Parse(patched(t, "{}"), testOptions(nil))
	require.NoError(t, err)
	require.Equal(t, "config ok: 2 sources (postgres_poll, files), 1 sync, nats embedded, salesforce client_credentials", c.Summary())
}

// requireProblems asserts that the problems are exactly want, each written
// "path: part of the message".
func requireProblems(t *testing.T, got []Problem, want ...string) {
	t.Helper()
	var lines []string
	for _, p := range got {
		lines = append(lines, p.Path+": "+p.Message)
	}
	all := strings.Join(lines, "\n")
	require.Len(t, got, len(want), "problems:\n%s", all)
	used := make([]bool, len(got))
next:
	for _, w := range want {
		path, msg, _ := strings.Cut(w, ": ")
		for i, p := range got {
			if !used[i] && p.Path == path && strings.Contains(p.Message, msg) {
				used[i] = true
				continue next
			}
		}
		require.Failf(t, "missing problem", "want %q in:\n%s", w, all)
	}
}

func TestValidateRules(t *testing.T) {
	t.Parallel()
	rsaKey, ecKey := testKeys(t)
	files := map[string]string{
		"/secrets/rsa.pem":  rsaKey,
		"/secrets/ec.pem":   ecKey,
		"/secrets/junk.pem": "not a key at all",
	}
	tests := []rule{
		// top level
		{"version missing", `{version: DELETE}`, []string{`version: required; write "version: 1"`}},
		{"data_dir empty with embedded nats", `{data_dir: ""}`, []string{`data_dir: required with nats: embedded`}},
		{"nats not a URL", `{nats: "localhost:4222"}`, []string{`nats: server 1: scheme must be nats, tls, ws or wss`}},
		{"nats second server bad", `{nats: "nats://a:4222,http://b:4222"}`, []string{`nats: server 2: scheme must be`}},
		{"nats no host", `{nats: "nats://"}`, []string{`nats: server 1 has no host`}},
		{"log level", `{log: {level: loud}}`, []string{`log.level: must be one of debug, info, warn, error, got "loud"`}},
		{"log format", `{log: {format: xml}}`, []string{`log.format: must be one of text, json, got "xml"`}},
		{"no sources", `{sources: [], syncs: []}`, []string{`sources: list at least one source`, `syncs: list at least one sync`}},

		// salesforce
		{"flow missing", `{salesforce: {auth: {flow: DELETE}}}`, []string{`salesforce.auth.flow: required (one of client_credentials, jwt_bearer, refresh_token, password, access_token)`}},
		{"flow unknown", `{salesforce: {auth: {flow: oauth}}}`, []string{`salesforce.auth.flow: must be one of client_credentials, jwt_bearer, refresh_token, password, access_token, got "oauth"`}},
		{"client secret missing", `{salesforce: {auth: {client_secret: DELETE}}}`, []string{`salesforce.auth.client_secret: required for flow client_credentials`}},
		{"secret from an empty variable", `{salesforce: {auth: {client_secret: "${env:EMPTY}"}}}`, []string{`salesforce.auth.client_secret: required for flow client_credentials (it comes from ${env:EMPTY}, which is empty)`}},
		{"key of another flow", `{salesforce: {auth: {username: bob@acme.com}}}`, []string{`salesforce.auth.username: not used by flow client_credentials (it uses client_id, client_secret)`}},
		{"client_credentials on login host", `{salesforce: {login_url: "https://login.salesforce.com"}}`, []string{`salesforce.login_url: flow client_credentials must use your org's My Domain`}},
		{"client_credentials without login_url", `{salesforce: {login_url: DELETE}}`, []string{`salesforce.login_url: required for flow client_credentials`}},
		{"login_url plain http", `{salesforce: {login_url: "http://acme.my.salesforce.com"}}`, []string{`salesforce.login_url: must use https`}},
		{"login_url http on loopback is fine (emulator)", `{salesforce: {login_url: "http://127.0.0.1:8443"}}`, nil},
		{"login_url not a URL", `{salesforce: {login_url: "acme"}}`, []string{`salesforce.login_url: expected an https:// URL, got "acme"`}},
		{"instance_url with other flow", `{salesforce: {instance_url: "https://acme.my.salesforce.com"}}`, []string{`salesforce.instance_url: only used by flow access_token`}},
		{"access_token needs instance_url", `{salesforce: {login_url: DELETE, auth: {flow: access_token, client_id: DELETE, client_secret: DELETE, access_token: "00Dxx!abc"}}}`, []string{`salesforce.instance_url: required for flow access_token`}},
		{"access_token with login_url", `{salesforce: {instance_url: "https://acme.my.salesforce.com", auth: {flow: access_token, client_id: DELETE, client_secret: DELETE, access_token: "00Dxx!abc"}}}`, []string{`salesforce.login_url: not used by flow access_token`}},
		{"jwt ok", `{salesforce: {auth: {flow: jwt_bearer, client_secret: DELETE, username: int@acme.com, private_key: "${file:/secrets/rsa.pem}"}}}`, nil},
		{"jwt key not PEM", `{salesforce: {auth: {flow: jwt_bearer, client_secret: DELETE, username: int@acme.com, private_key: "${file:/secrets/junk.pem}"}}}`, []string{`salesforce.auth.private_key: not a PEM private key`}},
		{"jwt key not RSA", `{salesforce: {auth: {flow: jwt_bearer, client_secret: DELETE, username: int@acme.com, private_key: "${file:/secrets/ec.pem}"}}}`, []string{`salesforce.auth.private_key: must be an RSA key`}},
		{"jwt key file missing", `{salesforce: {auth: {flow: jwt_bearer, client_secret: DELETE, username: int@acme.com, private_key: "${file:/secrets/none.pem}"}}}`, []string{`salesforce.auth.private_key: cannot read file /secrets/none.pem (referenced as ${file:/secrets/none.pem}): not found`}},
		{"password flow", `{salesforce: {auth: {flow: password, username: u@acme.com, password: pw, security_token: tok}}}`, nil},
		{"refresh_token flow needs token", `{salesforce: {auth: {flow: refresh_token}}}`, []string{`salesforce.auth.refresh_token: required for flow refresh_token`}},
		{"api_version shape", `{salesforce: {api_version: "v62"}}`, []string{`salesforce.api_version: expected a version like "62.0", got "v62"`}},
		{"api_version too old", `{salesforce: {api_version: "45.0"}}`, []string{`salesforce.api_version: must be 46.0 or later`}},
		{"api_version unquoted number", `{salesforce: {api_version: 63.0}}`, nil},
		{"max_concurrency", `{salesforce: {max_concurrency: 30}}`, []string{`salesforce.max_concurrency: must be from 1 to 25`}},
		{"max_concurrency zero", `{salesforce: {max_concurrency: 0}}`, []string{`salesforce.max_concurrency: must be from 1 to 25 (Salesforce allows 25 long-running requests per org), got 0`}},
		{"api_reserve", `{salesforce: {api_reserve: 100%}}`, []string{`salesforce.api_reserve: must be from 0% to below 100%, got 100%`}},
		{"budget_wait", `{salesforce: {budget_wait: 100ms}}`, []string{`salesforce.budget_wait: must be from 1s to 24h, got 100ms`}},
		{"api_reserve without %", `{salesforce: {api_reserve: 20}}`, []string{`salesforce.api_reserve: expected a percentage like 20%, got "20"`}},
		{"bulk_threshold", `{salesforce: {bulk_threshold: 0}}`, []string{`salesforce.bulk_threshold: must be at least 1`}},

		// syncs
		{"sync required keys", `{syncs: [{name: s}]}`, []string{`syncs[0].from: required`, `syncs[0].object: required`, `syncs[0].external_id: required`, `syncs[0].fields: map at least the external ID field`}},
		{"sync undefined source", `{syncs: [{name: s, from: nowhere, object: Contact, external_id: X__c, fields: {X__c: row.id}}]}`, []string{`syncs[0].from: no source named "nowhere" (sources: db, events)`}},
		{"sync glob matches no table", `{syncs: [{name: s, from: db.public.orgs, object: Account, external_id: X__c, fields: {X__c: row.id}}]}`, []string{`syncs[0].from: "public.orgs" matches no table of source db (tables: public.counselors)`}},
		{"sync glob matches", `{syncs: [{name: s, from: "db.public.*", object: Account, external_id: X__c, fields: {X__c: row.id}}]}`, nil},
		{"sync bad glob", `{syncs: [{name: s, from: "events.[x", object: Case, external_id: X__c, fields: {X__c: event.id}}]}`, []string{`syncs[0].from: "[x" is not a valid glob`}},
		{"sync trailing dot", `{syncs: [{name: s, from: "events.", object: Case, external_id: X__c, fields: {X__c: event.id}}]}`, []string{`syncs[0].from: nothing after the dot`}},
		{"sync event type glob", `{syncs: [{name: s, from: "events.rescue_*", when: 'event.type == "x"', object: Case, external_id: X__c, fields: {X__c: event.id}}]}`, nil},
		{"sync names unique", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id}}, {name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id}}]}`, []string{`syncs[1].name: "s" is already the name of syncs[0]`}},
		{"sync names", `{syncs: [{name: "1st", from: events, object: "Contact Record", external_id: "X-c", fields: {X__c: event.id}}]}`, []string{`syncs[0].name: "1st" is not a valid name`, `syncs[0].object: "Contact Record" is not a Salesforce API name`, `syncs[0].external_id: "X-c" is not a Salesforce API name`, `syncs[0].fields: must map the external ID field "X-c"`}},
		{"sync enums", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id}, nulls: maybe, deletes: purge}]}`, []string{`syncs[0].nulls: must be one of skip, write, got "maybe"`, `syncs[0].deletes: must be one of ignore, delete, got "purge"`}},
		{"sync empty when", `{syncs: [{name: s, from: events, when: "", object: Case, external_id: X__c, fields: {X__c: event.id}}]}`, []string{`syncs[0].when: empty expression`}},
		{"sync external id not mapped", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {Subject: event.id}}]}`, []string{`syncs[0].fields: must map the external ID field "X__c"`}},
		{"sync external id case-insensitive", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {x__C: event.id}}]}`, nil},
		{"sync field names clash", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id, Email: a, email: b}}]}`, []string{`syncs[0].fields.email: Email and email name the same Salesforce field`}},
		{"sync empty expression", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id, Subject: "  "}}]}`, []string{`syncs[0].fields.Subject: no expression`}},
		{"sync lookup on __c", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id, Parent__c: {Ext__c: event.parent}}}]}`, []string{`syncs[0].fields.Parent__c: a lookup is set through the relationship name (Parent__r), not the field (Parent__c)`}},
		{"sync lookup bad parent field", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id, Account: {"Org Id": event.org}}}]}`, []string{`syncs[0].fields.Account["Org Id"]: "Org Id" is not a Salesforce API name`}},
		{"sync batch and concurrency", `{syncs: [{name: s, from: events, object: Case, external_id: X__c, fields: {X__c: event.id}, batch_size: 20000, concurrency: 11}]}`, []string{`syncs[0].batch_size: must be from 1 to 10000`, `syncs[0].concurrency: must be from 1 to 10 (salesforce.max_concurrency)`}},

		// delivery
		{"delivery ranges", `{delivery: {batch_size: 0, linger: -1s, concurrency: 0, max_attempts: 0}}`, []string{`delivery.batch_size: must be from 1 to 10000, got 0`, `delivery.linger: must not be negative`, `delivery.concurrency: must be from 1 to 10`, `delivery.max_attempts: must be from 1 to 1000, got 0`}},
		{"delivery backoff", `{delivery: {backoff: {initial: 1m, max: 30s}}}`, []string{`delivery.backoff.max: must be at least backoff.initial (1m0s), got 30s`}},
		{"delivery dlq window", `{delivery: {dlq_window: {size: 10, threshold: 0%}}}`, []string{`delivery.dlq_window.threshold: must be above 0% and at most 100%, got 0%`}},
		{"delivery dlq window off", `{delivery: {dlq_window: {size: 0}}}`, nil},
		{"delivery max backlog", `{delivery: {max_backlog: -1}}`, []string{`delivery.max_backlog: must be 0 (off) or more, got -1`}},
		{"delivery max backlog off", `{delivery: {max_backlog: 0}}`, nil},
		{"delivery version guard", `{delivery: {version_guard: ordered}}`, []string{`delivery.version_guard: must be one of auto, state_store, got "ordered"`}},
		{"delivery version guard state store", `{delivery: {version_guard: state_store}}`, nil},

		// queue
		{"queue dedup window", `{queue: {dedup_window: 0s}}`, []string{`queue.dedup_window: must be above 0, got 0s`}},
		{"queue dedup window negative", `{queue: {dedup_window: -1m}}`, []string{`queue.dedup_window: must be above 0, got -1m0s`}},
		{"queue dedup window set", `{queue: {dedup_window: 30s}}`, nil},

		// alerts
		{"alert ok", `{alerts: [{type: webhook, url: "${env:ALERT_WEBHOOK_URL}"}]}`, nil},
		{"alert problems", `{alerts: [{type: email, events: [dlq, dlq, fire], timeout: 0s}]}`, []string{`alerts[0].type: must be one of webhook, got "email"`, `alerts[0].url: required`, `alerts[0].events[1]: "dlq" is listed twice`, `alerts[0].events[2]: must be one of dlq, circuit_open, auth_failure, sync_stopped, got "fire"`, `alerts[0].timeout: must be at least 1ms`}},
		{"alert no events", `{alerts: [{type: webhook, url: "https://h.example/x", events: []}]}`, []string{`alerts[0].events: list at least one of`}},
		{"alert names unique", `{alerts: [{name: a, type: webhook, url: "https://h.example/x"}, {name: a, type: webhook, url: "https://h.example/y"}]}`, []string{`alerts[1].name: "a" is already the name of alerts[0]`}},

		// admin
		{"admin listen public without token", `{admin: {listen: "0.0.0.0:8080"}}`, []string{`admin.token: required when admin.listen is not a loopback address`}},
		{"admin listen public with token", `{admin: {listen: "0.0.0.0:8080", token: "${env:SFBRIDGE_ADMIN_TOKEN}"}}`, nil},
		{"admin listen bad host", `{admin: {listen: "my host:8080"}}`, []string{`admin.listen: host "my host" is neither an IP address nor a host name`}},
	}
	runRules(t, tests, files)
}

// rule is a table test case: a patch of baseYAML and the problems it
// must produce (none when want is nil).
type rule struct {
	name  string
	patch string
	want  []string
}

func runRules(t *testing.T, tests []rule, files map[string]string) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := patched(t, tt.patch)
			_, err := Parse(data, testOptions(files))
			if tt.want == nil {
				require.NoError(t, err, "config:\n%s", data)
				return
			}
			requireProblems(t, problems(t, data, testOptions(files)), tt.want...)
		})
	}
}

// testKeys makes an RSA and an EC private key in PEM.
func testKeys(t *testing.T) (rsaPEM, ecPEM string) {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rb, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(t, err)
	eb, err := x509.MarshalPKCS8PrivateKey(ek)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rb})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: eb}))
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	t.Parallel()
	c := &Config{
		Version: 1,
		Salesforce: Salesforce{
			LoginURL: "https://acme.my.salesforce.com",
			Auth:     Auth{Flow: FlowClientCredentials, ClientID: "id", ClientSecret: NewSecret("s")},
		},
		Sources: []Source{{Name: "ingest", Type: SourceHTTP, HTTP: &HTTP{Token: NewSecret("t")}}},
		Syncs: []Sync{{Name: "logins", From: "ingest", Object: "Contact", ExternalID: "X__c",
			Fields: Fields{{Name: "X__c", Expr: "event.id"}}}},
	}
	c.SetDefaults()
	require.NoError(t, c.Validate())
	require.Equal(t, "127.0.0.1:8081", c.Sources[0].HTTP.Listen)
	require.Equal(t, 200, c.Syncs[0].BatchSize)

	// Settings of another type on a source, and a problem without a line.
	c.Sources[0].Files = &Files{}
	err := c.Validate()
	require.EqualError(t, err, "sources[0]: has files settings but type http")
}

func TestPrivateKeyChecks(t *testing.T) {
	t.Parallel()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	tests := []struct {
		name, key, want string
	}{
		{"pkcs1", pkcs1, ""},
		{"encrypted pkcs8", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})), "encrypted private keys are not supported"},
		{"encrypted pkcs1", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}})), "encrypted private keys are not supported"},
		{"certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})), "holds a PEM CERTIFICATE; expected PRIVATE KEY or RSA PRIVATE KEY"},
		{"odd block", string(pem.EncodeToMemory(&pem.Block{Type: "MY SECRET THING", Bytes: []byte{1}})), "holds an unexpected PEM block"},
		{"corrupt", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage-key-bytes")})), "the PEM private key does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &validator{c: &Config{}}
			v.privateKey("k", NewSecret(tt.key))
			if tt.want == "" {
				require.Empty(t, v.problems)
				return
			}
			require.Len(t, v.problems, 1)
			require.Contains(t, v.problems[0].Message, tt.want)
			require.NotContains(t, v.problems[0].Message, "garbage-key-bytes")
			require.NotContains(t, v.problems[0].Message, "SECRET THING")
		})
	}
}

func TestProblemsAdd(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(baseYAML), testOptions(nil))
	require.NoError(t, err)
	// A later package (the sync engine) reports an expression problem in
	// the same form.
	var probs Problems
	require.NoError(t, probs.Err())
	probs.Add("syncs[0].fields.LastName", c.Line("syncs[0].fields.LastName"), "unknown function %s", "lowr")
	probs.Add("syncs[0].from", c.Line("syncs[0].from"), "bad")
	err = probs.Err()
	require.EqualError(t, err, "syncs[0].from: bad (line 20)\nsyncs[0].fields.LastName: unknown function lowr (line 25)")
	require.Equal(t, 2, probs.Len())
}
