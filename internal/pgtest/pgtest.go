package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// DefaultURL is the PostgreSQL of the project's machines.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is SFBRIDGE_TEST_DATABASE_URL or DefaultURL.
func URL() string {
	if u := os.Getenv("SFBRIDGE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// DB is a fresh schema in the test database.
type DB struct {
	// URL is the connection string (the test database's, unchanged).
	URL string
	// Schema is the schema's name, unique to the test.
	Schema string
	// Pool is a connection pool for the test's own statements (setup,
	// concurrent writers). The code under test opens its own from URL.
	Pool *pgxpool.Pool
}

// New creates a schema for t, dropped with everything in it when t ends.
// When PostgreSQL cannot be reached the test fails and says how to start it.
func New(t testing.TB) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(URL())
	require.NoError(t, err, "SFBRIDGE_TEST_DATABASE_URL does not parse")
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("PostgreSQL at %s: %v\nstart it with: scripts/services.sh (or set SFBRIDGE_TEST_DATABASE_URL)", redact(cfg), err)
	}
	var b [4]byte
	_, err = rand.Read(b[:])
	require.NoError(t, err)
	schema := "sfbridge_test_" + hex.EncodeToString(b[:])
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	db := &DB{URL: URL(), Schema: schema, Pool: pool}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		pool.Close()
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return db
}

// Table returns "schema.name" for a table in the test's schema, as the
// config writes it (unquoted).
func (db *DB) Table(name string) string { return db.Schema + "." + name }

// Ident returns the quoted, schema-qualified name of a table in the
// test's schema, for SQL.
func (db *DB) Ident(name string) string { return pgx.Identifier{db.Schema, name}.Sanitize() }

// Exec runs sql (statements separated by ';' are allowed without args) and
// fails the test on error.
func (db *DB) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := db.Pool.Exec(ctx, sql, args...)
	require.NoError(t, err, "SQL: %s", sql)
}

// redact names the server without the password.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
