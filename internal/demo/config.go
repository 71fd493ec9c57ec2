package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// Env names the variables the demo config reads, with the values the demo
// supplies (through config.Options.LookupEnv, not the process environment).
func Env(databaseURL string) map[string]string {
	return map[string]string{
		"SFBRIDGE_DEMO_DATABASE_URL":  databaseURL,
		"SFBRIDGE_DEMO_CLIENT_SECRET": sfemu.DemoClientSecret,
	}
}

// ConfigYAML is the demo's config: the file a user would write.
func ConfigYAML(dataDir, emulatorURL, adminListen, schema string) string {
	return fmt.Sprintf(`# Written by "sfbridge demo". Secrets are read from the environment:
#   SFBRIDGE_DEMO_DATABASE_URL, SFBRIDGE_DEMO_CLIENT_SECRET (the emulator's demo app).
version: 1
data_dir: %[1]q
nats: embedded
salesforce:
  login_url: %[2]s          # the embedded Salesforce emulator
  auth:
    flow: client_credentials
    client_id: %[4]s
    client_secret: ${env:SFBRIDGE_DEMO_CLIENT_SECRET}
sources:
  - name: platform_db
    type: postgres_poll
    dsn: ${env:SFBRIDGE_DEMO_DATABASE_URL}
    every: 2s
    lag: 1s
    tables:
      - {table: %[5]s.organisations, key: id, cursor: updated_at}
      - table: %[5]s.counselors
        key: id
        cursor: updated_at
        soft_delete: {column: deleted_at}
syncs:
  - name: organisations
    from: platform_db.%[5]s.organisations
    object: Account
    external_id: Org_Id__c
    fields:
      Org_Id__c: row.id
      Name: row.name
      BillingCity: row.city
  - name: counselors
    from: platform_db.%[5]s.counselors
    object: Contact
    external_id: Counselor_Id__c
    deletes: delete
    fields:
      Counselor_Id__c: row.id
      FirstName: row.first_name
      LastName: row.last_name
      Email: lower(row.email)
      Hours_Available__c: row.hours
      Last_Active_At__c: row.last_active
      Account: {Org_Id__c: row.org_id}   # lookup by the parent's external ID
delivery:
  batch_size: 200
  # A Contact that arrives before its Account is retried; with a short first
  # backoff the demo shows it delivered within seconds (the default is 30s).
  backoff: {initial: 2s, max: 1m}
admin:
  listen: %[3]s
`, dataDir, emulatorURL, adminListen, sfemu.DemoClientID, schema)
}

// WriteConfig writes the demo config into dir and loads it back the way
// `sfbridge run` would, with the demo's environment.
func WriteConfig(dir, emulatorURL, adminListen, databaseURL, schema string) (*config.Config, string, error) {
	return writeConfig(dir, ConfigYAML(filepath.Join(dir, "data"), emulatorURL, adminListen, schema), Env(databaseURL))
}

// WriteConfigWithEvents is WriteConfig plus the application's events: an
// http source named "app" on eventsListen, taking the bearer token
// eventsToken (read from SFBRIDGE_DEMO_EVENTS_TOKEN), and a sync that
// makes each "rescue.*" event a Case linked to its counselor's Contact (the
// one the counselors sync writes from the table).
func WriteConfigWithEvents(dir, emulatorURL, adminListen, databaseURL, schema, eventsListen, eventsToken string) (*config.Config, string, error) {
	yaml, err := withEvents(ConfigYAML(filepath.Join(dir, "data"), emulatorURL, adminListen, schema), eventsListen)
	if err != nil {
		return nil, "", err
	}
	env := Env(databaseURL)
	env["SFBRIDGE_DEMO_EVENTS_TOKEN"] = eventsToken
	return writeConfig(dir, yaml, env)
}

// withEvents adds the events source and the rescues sync to a demo config.
func withEvents(yaml, listen string) (string, error) {
	source := fmt.Sprintf(`  - name: app                  # the application's events, over HTTP
    type: http
    listen: %s
    token: ${env:SFBRIDGE_DEMO_EVENTS_TOKEN}
syncs:
`, listen)
	sync := `  - name: rescues              # each rescue.* event becomes a Case of the counselor's Contact
    from: app.rescue.*
    object: Case
    external_id: Platform_Event_Id__c
    fields:
      Platform_Event_Id__c: event.id
      Subject: '"First active rescue of counselor " + event.counselor_id'
      Origin: '"Web"'
      Severity__c: event.severity
      Rescue_Started_At__c: event.time
      Contact: {Counselor_Id__c: event.counselor_id}
delivery:
`
	if strings.Count(yaml, "\nsyncs:\n") != 1 || strings.Count(yaml, "\ndelivery:\n") != 1 {
		return "", fmt.Errorf("demo: the config has no single syncs and delivery section to add the events to")
	}
	yaml = strings.Replace(yaml, "\nsyncs:\n", "\n"+source, 1)
	return strings.Replace(yaml, "\ndelivery:\n", "\n"+sync, 1), nil
}

func writeConfig(dir, yaml string, env map[string]string) (*config.Config, string, error) {
	path := filepath.Join(dir, "sfbridge-demo.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return nil, "", err
	}
	cfg, err := config.LoadWith(path, config.Options{LookupEnv: func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}})
	return cfg, path, err
}
