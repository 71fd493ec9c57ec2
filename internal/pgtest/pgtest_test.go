package pgtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/pgtest"
)

func TestSchemaPerTestDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var schema string
	t.Run("inner", func(t *testing.T) {
		db := pgtest.New(t)
		schema = db.Schema
		db.Exec(t, `CREATE TABLE `+db.Ident("Odd Name")+` (id int)`)
		require.Equal(t, schema+".Odd Name", db.Table("Odd Name"))
	})
	outer := pgtest.New(t)
	require.NotEqual(t, schema, outer.Schema)
	var n int
	require.NoError(t, outer.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n))
	require.Zero(t, n, "the inner test's schema is gone")
}
