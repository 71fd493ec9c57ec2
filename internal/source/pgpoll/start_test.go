package pgpoll

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/pgtest"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/source"
	"github.com/sfbridge/sfbridge/internal/source/sourcetest"
)

func TestStartNamesBadTablesAndColumns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz, name text, flag text)`)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("loose")+` (id int NOT NULL, org text, updated_at timestamptz)`)
	table := b.db.Table("t")
	tests := []struct {
		name  string
		table config.PollTable
		want  []string
	}{
		{"missing table", config.PollTable{Table: b.db.Table("nope"), Key: []string{"id"}, Cursor: "updated_at"},
			[]string{`table ` + b.db.Table("nope") + ` not found: no table or view "nope" in schema "` + b.db.Schema + `"`}},
		{"missing columns", config.PollTable{Table: table, Key: []string{"idd"}, Cursor: "updated", Columns: []string{"id", "updated_at", "nme"}, SoftDelete: &config.SoftDelete{Column: "gone"}},
			[]string{
				`table ` + table + `: key column "idd" does not exist (the table has id, updated_at, name, flag)`,
				`table ` + table + `: cursor column "updated" does not exist`,
				`table ` + table + `: listed column "nme" does not exist`,
				`table ` + table + `: soft_delete column "gone" does not exist`,
			}},
		{"case matters", config.PollTable{Table: table, Key: []string{"ID"}, Cursor: "updated_at"}, []string{`key column "ID" does not exist`}},
		{"cursor type", config.PollTable{Table: table, Key: []string{"id"}, Cursor: "name"},
			[]string{`table ` + table + `: cursor column "name" is text; it must be a timestamp, timestamptz or integer (bigint) column`}},
		{"bad where", config.PollTable{Table: table, Key: []string{"id"}, Cursor: "updated_at", Where: "colour = 'red'"},
			[]string{`table ` + table + `: its where filter fails: ERROR: column "colour" does not exist`}},
		{"nullable key", config.PollTable{Table: b.db.Table("loose"), Key: []string{"id", "org"}, Cursor: "updated_at"},
			[]string{`table ` + b.db.Table("loose") + `: key column "org" allows NULL; a row without a key can be neither ordered nor upserted: make it NOT NULL`}},
		{"overlap on an integer cursor", config.PollTable{Table: table, Key: []string{"id"}, Cursor: "id", Overlap: time.Minute},
			[]string{`table ` + table + `: overlap works with timestamp cursors only; cursor column "id" is integer`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := b.newSource(t, b.pollConfig(tt.table))
			err := s.Start(context.Background())
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.ErrorContains(t, err, "pgpoll: source db: ")
		})
	}
}

func TestStartRefusesReadWithoutPrivilege(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz)`)
	role := b.db.Schema + "_reader"
	b.db.Exec(t, `CREATE ROLE `+role+` LOGIN`)
	t.Cleanup(func() {
		_, _ = b.db.Pool.Exec(context.Background(), `DROP OWNED BY `+role)
		_, _ = b.db.Pool.Exec(context.Background(), `DROP ROLE `+role)
	})
	b.db.Exec(t, `GRANT USAGE ON SCHEMA `+b.db.Schema+` TO `+role)
	u, err := url.Parse(b.db.URL)
	require.NoError(t, err)
	u.User = url.User(role)
	cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at"})
	cfg.DSN = config.NewSecret(u.String())
	err = b.newSource(t, cfg).Start(context.Background())
	require.ErrorContains(t, err, "table "+b.db.Table("t")+" cannot be read: ERROR: permission denied")
}

// proxy forwards TCP connections to PostgreSQL while it is up.
type proxy struct {
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, d)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(d, c); d.Close() }()
			go func() { _, _ = io.Copy(c, d); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestUnreachablePostgresIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("t")+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+b.db.Ident("t")+` VALUES (1, '2024-01-01')`)

	// A port with nothing on it, for now.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	target, err := url.Parse(pgtest.URL())
	require.NoError(t, err)
	p := &proxy{addr: addr, target: target.Host}
	t.Cleanup(p.down)
	viaProxy := *target
	viaProxy.Host = addr

	cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at"})
	cfg.DSN = config.NewSecret(viaProxy.String())
	s, err := New(Options{Name: "db", Config: cfg, Queue: b.pub, State: b.state, Logger: b.newLogger(),
		Backoff: retry.Policy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Multiplier: 2}})
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()), "an unreachable database does not fail the start")
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	sourcetest.Eventually(t, 10*time.Second, "retries logged", func() bool {
		return strings.Count(b.log.String(), "postgres unreachable; retrying") >= 2
	})
	require.NotContains(t, b.log.String(), "password")

	p.up(t)
	require.Equal(t, []string{`[["id",1]]`}, keys(b.drain(t, 1)))
	sourcetest.Eventually(t, 10*time.Second, "recovery logged", func() bool {
		return strings.Contains(b.log.String(), "table read again after failures")
	})

	// Down again in the middle of operation: the source keeps running.
	p.down()
	b.db.Exec(t, `INSERT INTO `+b.db.Ident("t")+` VALUES (2, '2024-01-02')`)
	_, err = s.Trigger("")
	require.NoError(t, err)
	before := strings.Count(b.log.String(), "postgres unreachable")
	sourcetest.Eventually(t, 10*time.Second, "new failures logged", func() bool {
		return strings.Count(b.log.String(), "postgres unreachable") > before
	})
	p.up(t)
	require.Equal(t, []string{`[["id",2]]`}, keys(b.drain(t, 1)))
}

func TestScheduleAndTrigger(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, '2024-01-01')`)
	b.db.Exec(t, `CREATE TABLE `+b.db.Ident("other")+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at"}, func(c *config.PostgresPoll) {
		c.Every = 0
		c.Schedule = "0 0 1 1 *" // once a year: only triggers run it here
		c.Tables = append(c.Tables, config.PollTable{Table: b.db.Table("other"), Key: []string{"id"}, Cursor: "updated_at", BatchSize: 10})
	})
	s := b.newSource(t, cfg)
	_, err := s.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)
	require.NoError(t, s.Start(context.Background()))
	b.drain(t, 0) // a cron schedule does not run at start

	// Through the admin endpoint, as `sfbridge trigger db.<table>` does.
	srv := httptest.NewServer(source.NewTriggerHandler("s3cret", func(name string) (source.Triggerer, bool) {
		if name == s.Name() {
			return s, true
		}
		return nil, false
	}))
	defer srv.Close()
	post := func(path, token string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, body := post("/v1/sources/db/trigger?table="+url.QueryEscape(b.db.Table("t")), "")
	require.Equal(t, http.StatusUnauthorized, code, body)
	code, body = post("/v1/sources/db/trigger?table=nope", "s3cret")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, `unknown collection \"nope\": source db reads `+b.db.Table("t")+", "+b.db.Table("other"))
	code, body = post("/v1/sources/db/trigger?table="+url.QueryEscape(b.db.Table("t")), "s3cret")
	require.Equal(t, http.StatusAccepted, code, body)
	require.JSONEq(t, `{"source":"db","collections":["`+b.db.Table("t")+`"]}`, body)
	require.Equal(t, []string{`[["id",1]]`}, keys(b.drain(t, 1)))

	// Many triggers while idle or running merge; runs never overlap.
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (2, '2024-01-02')`)
	for range 20 {
		_, err := s.Trigger(b.db.Table("t"))
		require.NoError(t, err)
	}
	require.Equal(t, []string{`[["id",2]]`}, keys(b.drain(t, 1)))

	require.NoError(t, s.Stop(context.Background()))
	_, err = s.Trigger("")
	require.ErrorIs(t, err, source.ErrNotRunning)
}

func TestEveryRunsAtStartAndRepeats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tbl := b.db.Ident("t")
	b.db.Exec(t, `CREATE TABLE `+tbl+` (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (1, '2024-01-01')`)
	cfg := b.pollConfig(config.PollTable{Table: b.db.Table("t"), Key: []string{"id"}, Cursor: "updated_at"}, func(c *config.PostgresPoll) {
		c.Every = time.Second
	})
	s := b.newSource(t, cfg)
	require.NoError(t, s.Start(context.Background()))
	require.Equal(t, []string{`[["id",1]]`}, keys(b.drain(t, 1)))
	b.db.Exec(t, `INSERT INTO `+tbl+` VALUES (2, '2024-01-02')`)
	require.Equal(t, []string{`[["id",2]]`}, keys(b.drain(t, 1)), "the next run within a second")
	err := s.Start(context.Background())
	require.Error(t, err)
	require.False(t, errors.Is(err, context.Canceled))
}
