package config

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pollSource is a valid postgres_poll source entry without its closing brace.
const pollSource = `{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: updated_at}]`

func TestValidateSourceRules(t *testing.T) {
	t.Parallel()
	tests := []rule{
		// sources
		{"source name", `{sources: [{name: "my db", type: http, token: t}]}`, []string{`sources[0].name: "my db" is not a valid name`, `syncs[0].from: no source named "db"`}},
		{"source name missing", `{sources: [{type: http, token: t}]}`, []string{`sources[0].name: required`, `syncs[0].from: no source named "db"`}},
		{"source names unique", fmt.Sprintf(`{sources: [%s}, {name: db, type: http, token: t}]}`, pollSource), []string{`sources[1].name: "db" is already the name of sources[0]`}},
		{"source type missing", `{sources: [{name: x}]}`, []string{`sources[0].type: required (one of postgres_poll, postgres_cdc, files, s3, http)`, `syncs[0].from: no source named "db"`}},
		{"source type unknown", fmt.Sprintf(`{sources: [%s}, {name: q, type: kafka}]}`, pollSource), []string{`sources[1].type: must be one of postgres_poll, postgres_cdc, files, s3, http, got "kafka"`}},
		{"key of another source type", fmt.Sprintf(`{sources: [%s}, {name: f, type: files, path: /in, tables: []}]}`, pollSource), []string{`sources[1].tables: not a key of a files source (it belongs to postgres_poll, postgres_cdc)`}},
		{"unknown source key", fmt.Sprintf(`{sources: [%s, evry: 5s}]}`, pollSource), []string{`sources[0].evry: unknown key for a postgres_poll source (did you mean every?)`}},

		// postgres_poll
		{"dsn missing", `{sources: [{name: db, type: postgres_poll, tables: [{table: public.counselors, key: id, cursor: updated_at}]}]}`, []string{`sources[0].dsn: required`}},
		{"dsn nonsense", `{sources: [{name: db, type: postgres_poll, dsn: nonsense, tables: [{table: public.counselors, key: id, cursor: updated_at}]}]}`, []string{`sources[0].dsn: not a postgres:// URL or a key=value connection string`}},
		{"dsn key=value", `{sources: [{name: db, type: postgres_poll, dsn: "host=localhost dbname=app", tables: [{table: public.counselors, key: id, cursor: updated_at}]}]}`, nil},
		{"every and schedule", fmt.Sprintf(`{sources: [%s, every: 1m, schedule: "*/5 * * * *"}]}`, pollSource), []string{`sources[0].schedule: every and schedule are exclusive`}},
		{"schedule ok", fmt.Sprintf(`{sources: [%s, schedule: "*/5 * * * *"}]}`, pollSource), nil},
		{"schedule descriptor ok", fmt.Sprintf(`{sources: [%s, schedule: "@hourly"}]}`, pollSource), nil},
		{"schedule 6 fields", fmt.Sprintf(`{sources: [%s, schedule: "0 */5 * * * *"}]}`, pollSource), []string{`sources[0].schedule: a cron schedule has 5 fields`}},
		{"schedule bad field", fmt.Sprintf(`{sources: [%s, schedule: "*/5 * * * mon-funday"}]}`, pollSource), []string{`sources[0].schedule: not a cron schedule`}},
		{"schedule @every", fmt.Sprintf(`{sources: [%s, schedule: "@every 5m"}]}`, pollSource), []string{`sources[0].schedule: use every: instead of @every`}},
		{"every too short", fmt.Sprintf(`{sources: [%s, every: 10ms}]}`, pollSource), []string{`sources[0].every: must be at least 1s, got 10ms`}},
		{"lag negative", fmt.Sprintf(`{sources: [%s, lag: -5s}]}`, pollSource), []string{`sources[0].lag: must not be negative, got -5s`}},
		{"lag zero is fine", fmt.Sprintf(`{sources: [%s, lag: 0s}]}`, pollSource), nil},
		{"overlap negative", fmt.Sprintf(`{sources: [%s, overlap: -1m}]}`, pollSource), []string{`sources[0].overlap: must not be negative, got -1m0s`}},
		{"table overlap negative", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", overlap: 1m, tables: [{table: public.counselors, key: id, cursor: u, overlap: -1s}]}]}`, []string{`sources[0].tables[0].overlap: must not be negative, got -1s`}},
		{"batch_size zero", fmt.Sprintf(`{sources: [%s, batch_size: 0}]}`, pollSource), []string{`sources[0].batch_size: must be from 1 to 100000, got 0`}},
		{"pool_size", fmt.Sprintf(`{sources: [%s, pool_size: 500}]}`, pollSource), []string{`sources[0].pool_size: must be from 1 to 100`}},
		{"no tables", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}"}]}`, []string{`sources[0].tables: list at least one table`, `syncs[0].from: "public.counselors" matches no table of source db`}},
		{"table shape", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: a.b.c, key: id, cursor: u}]}], syncs: [{name: s, from: db, object: Contact, external_id: X__c, fields: {X__c: row.id}}]}`, []string{`sources[0].tables[0].table: expected schema.table, got "a.b.c"`}},
		{"table unqualified gets public", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: counselors, key: id, cursor: updated_at}]}]}`, nil},
		{"table twice", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: u}, {table: counselors, key: id, cursor: u}]}]}`, []string{`sources[0].tables[1].table: "public.counselors" is already read by sources[0].tables[0]`}},
		{"key and cursor missing", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors}]}]}`, []string{`sources[0].tables[0].key: required`, `sources[0].tables[0].cursor: required`}},
		{"composite key", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: [org_id, id], cursor: u}]}]}`, nil},
		{"bad column", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: "a\"b", cursor: u}]}]}`, []string{`sources[0].tables[0].key[0]: "a\"b" is not a column name`}},
		{"columns lack key", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: u, columns: [u, name]}]}]}`, []string{`sources[0].tables[0].columns: must include "id"`}},
		{"columns lack soft delete column", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: u, columns: [id, u], soft_delete: {column: gone}}]}]}`, []string{`sources[0].tables[0].columns: must include "gone"`}},
		{"soft_delete without column", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: u, soft_delete: {value: "true"}}]}]}`, []string{`sources[0].tables[0].soft_delete.column: required`}},
		{"empty where", `{sources: [{name: db, type: postgres_poll, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors, key: id, cursor: u, where: " "}]}]}`, []string{`sources[0].tables[0].where: empty filter`}},

		// postgres_cdc
		{"cdc ok", `{sources: [{name: db, type: postgres_cdc, dsn: "${env:DATABASE_URL}", tables: [{table: public.counselors}]}]}`, nil},
		{"cdc slot", `{sources: [{name: db, type: postgres_cdc, dsn: "${env:DATABASE_URL}", slot: My-Slot, snapshot: sometimes, heartbeat: 0s, tables: [{table: public.counselors}]}]}`, []string{`sources[0].slot: a replication slot name has 1 to 63 lower-case letters`, `sources[0].snapshot: must be one of initial, never, got "sometimes"`, `sources[0].heartbeat: must be at least 1s`}},
		{"cdc no tables", `{sources: [{name: db, type: postgres_cdc, dsn: "${env:DATABASE_URL}"}]}`, []string{`sources[0].tables: list at least one table`, `syncs[0].from: "public.counselors" matches no table of source db`}},

		// files
		{"files path missing", fmt.Sprintf(`{sources: [%s}, {name: events, type: files}]}`, pollSource), []string{`sources[1].path: required`}},
		{"files enums", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, format: xml, compression: zstd, after: keep}]}`, pollSource), []string{`sources[1].format: must be one of auto, ndjson, json, csv, got "xml"`, `sources[1].compression: must be one of auto, none, gzip, got "zstd"`, `sources[1].after: must be one of move, delete, got "keep"`}},
		{"files pattern", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, pattern: "[a-"}]}`, pollSource), []string{`sources[1].pattern: not a file name glob`}},
		{"files processed is path", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, processed_dir: /in/}]}`, pollSource), []string{`sources[1].processed_dir: must differ from path`}},
		{"files empty id field", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, id_field: ""}]}`, pollSource), []string{`sources[1].id_field: required`}},
		{"files max_event_bytes", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, max_event_bytes: 1GiB}]}`, pollSource), []string{`sources[1].max_event_bytes: must be from 1B to 64MiB, got 1GiB`}},
		{"files max_event_bytes unit", fmt.Sprintf(`{sources: [%s}, {name: events, type: files, path: /in, max_event_bytes: 1 megabyte}]}`, pollSource), []string{`sources[1].max_event_bytes: expected a size like 1MiB, 512KB or 1048576, got "1 megabyte"`}},

		// s3
		{"s3 ok", fmt.Sprintf(`{sources: [%s}, {name: bucket, type: s3, bucket: acme-events, endpoint: "http://10.0.0.5:9000", force_path_style: true}]}`, pollSource), nil},
		{"s3 problems", fmt.Sprintf(`{sources: [%s}, {name: bucket, type: s3, bucket: Acme_Events, region: "EU West", access_key_id: AKIA, mark: flag, sqs_queue_url: "sqs"}]}`, pollSource), []string{
			`sources[1].bucket: "Acme_Events" is not an S3 bucket name`,
			`sources[1].region: "EU West" is not an AWS region name`,
			`sources[1].secret_access_key: required with the other of access_key_id and secret_access_key`,
			`sources[1].mark: must be one of state, move, tag, got "flag"`,
			`sources[1].sqs_queue_url: expected an https:// URL, got "sqs"`,
		}},
		{"s3 move without prefix", fmt.Sprintf(`{sources: [%s}, {name: bucket, type: s3, bucket: acme-events, mark: move, processed_prefix: ""}]}`, pollSource), []string{`sources[1].processed_prefix: required with mark: move`}},

		// http
		{"http token missing", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http}]}`, pollSource), []string{`sources[1].token: required`}},
		{"http listen", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http, token: t, listen: "8081"}]}`, pollSource), []string{`sources[1].listen: expected host:port`}},
		{"http port", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http, token: t, listen: ":99999"}]}`, pollSource), []string{`sources[1].listen: port must be a number from 0 to 65535, got "99999"`}},
		{"http limits", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http, token: t, listen: "127.0.0.1:8091", max_in_flight: 0, publish_timeout: 10ms}]}`, pollSource), []string{
			`sources[1].max_in_flight: must be from 1 to 10000, got 0`, `sources[1].publish_timeout: must be from 100ms to 5m, got 10ms`}},
		{"http on admin's address", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http, token: t, listen: "127.0.0.1:8080"}]}`, pollSource), []string{`sources[1].listen: "127.0.0.1:8080" is already used by admin.listen`}},
		{"http body below event", fmt.Sprintf(`{sources: [%s}, {name: ingest, type: http, token: t, max_body_bytes: 1KiB}]}`, pollSource), []string{`sources[1].max_body_bytes: must be at least max_event_bytes (1MiB), got 1KiB`}},
	}
	runRules(t, tests, nil)
}

func TestPollOverlapInherited(t *testing.T) {
	t.Parallel()
	c, err := Parse(doc(`sources:
  - name: db
    type: postgres_poll
    dsn: host=db
    overlap: 2m
    tables:
      - {table: counselors, key: id, cursor: updated_at}
      - {table: orgs, key: id, cursor: updated_at, overlap: 0s}
  - {name: other, type: postgres_poll, dsn: host=db, tables: [{table: t, key: id, cursor: u}]}
syncs:
  - {name: s, from: db.public.counselors, object: Contact, external_id: X__c, fields: {X__c: row.id}}
`), Options{})
	require.NoError(t, err)
	pg := c.Sources[0].PostgresPoll
	require.Equal(t, 2*time.Minute, pg.Overlap)
	require.Equal(t, 2*time.Minute, pg.Tables[0].Overlap, "inherited")
	require.Equal(t, time.Duration(0), pg.Tables[1].Overlap, "an explicit 0s stays")
	require.Equal(t, time.Duration(0), c.Sources[1].PostgresPoll.Tables[0].Overlap, "off by default")
}
