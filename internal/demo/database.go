package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultDatabaseURL is the local server of the project's machines.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Schema is the demo's Postgres schema; Setup drops and recreates it.
const Schema = "sfbridge_demo"

// DB is what the demo needs of a connection or a pool.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DatabaseURL is SFBRIDGE_DEMO_DATABASE_URL or DefaultDatabaseURL.
func DatabaseURL() string {
	if u := os.Getenv("SFBRIDGE_DEMO_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Setup (re)creates schema with orgs organisations and counselors
// counselors. The schema name is quoted.
func Setup(ctx context.Context, conn DB, schema string, orgs, counselors int) error {
	q := pgx.Identifier{schema}.Sanitize()
	ddl := fmt.Sprintf(`
DROP SCHEMA IF EXISTS %[1]s CASCADE;
CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.organisations (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  city       text,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE %[1]s.counselors (
  id          bigint PRIMARY KEY,
  org_id      text REFERENCES %[1]s.organisations(id),
  first_name  text,
  last_name   text NOT NULL,
  email       text,
  hours       numeric(6,2),
  last_active timestamptz,
  deleted_at  timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON %[1]s.organisations (updated_at, id);
CREATE INDEX ON %[1]s.counselors (updated_at, id);`, q)
	if _, err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("demo: create schema %s: %w", schema, err)
	}
	_, err := conn.Exec(ctx, fmt.Sprintf(`
INSERT INTO %[1]s.organisations (id, name, city)
SELECT 'org-' || g, 'Helpline ' || g, (ARRAY['Lisbon','Oslo','Austin','Nairobi','Osaka'])[1 + g %% 5]
FROM generate_series(1, $1) g;
`, q), orgs)
	if err != nil {
		return fmt.Errorf("demo: seed organisations: %w", err)
	}
	_, err = conn.Exec(ctx, fmt.Sprintf(`
INSERT INTO %[1]s.counselors (id, org_id, first_name, last_name, email, hours, last_active)
SELECT g, 'org-' || (1 + g %% $2),
       (ARRAY['Ana','Bo','Chidi','Dana','Emeka','Fen','Grete','Hiro'])[1 + g %% 8],
       (ARRAY['Silva','Berg','Okafor','Lee','Mwangi','Sato','Nakamura','Diaz'])[1 + (g / 8) %% 8] || ' ' || g,
       'Counselor.' || g || '@Example.org', (g %% 40) + 0.5, clock_timestamp() - (g || ' minutes')::interval
FROM generate_series(1, $1) g;
`, q), counselors, orgs)
	if err != nil {
		return fmt.Errorf("demo: seed counselors: %w", err)
	}
	return nil
}

// Change makes one small batch of changes, as an application would: a few
// updates, sometimes a new counselor, sometimes a soft delete. It returns a
// line saying what it did.
func Change(ctx context.Context, conn DB, schema string, rnd *rand.Rand, counselors int) (string, error) {
	q := pgx.Identifier{schema}.Sanitize()
	id := 1 + rnd.IntN(counselors)
	switch n := rnd.IntN(10); {
	case n < 7:
		_, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s.counselors SET hours = hours + 1, last_active = clock_timestamp(), updated_at = clock_timestamp() WHERE id = $1`, q), id)
		return fmt.Sprintf("counselor %d logged an hour", id), err
	case n < 9:
		var newID int64
		err := conn.QueryRow(ctx, fmt.Sprintf(`INSERT INTO %[1]s.counselors (id, org_id, first_name, last_name, email, hours)
SELECT coalesce(max(id), 0) + 1, 'org-1', 'New', 'Volunteer ' || (coalesce(max(id), 0) + 1), NULL, 0 FROM %[1]s.counselors RETURNING id`, q)).Scan(&newID)
		return fmt.Sprintf("counselor %d joined", newID), err
	default:
		_, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s.counselors SET deleted_at = clock_timestamp(), updated_at = clock_timestamp() WHERE id = $1 AND deleted_at IS NULL`, q), id)
		return fmt.Sprintf("counselor %d left (soft delete)", id), err
	}
}
