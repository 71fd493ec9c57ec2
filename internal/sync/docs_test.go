package sync

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocsNameEveryFunction keeps docs/syncs.md in step with the functions.
func TestDocsNameEveryFunction(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/syncs.md")
	require.NoError(t, err)
	for _, f := range functions {
		require.True(t, strings.Contains(string(doc), "`"+f.name+"("), "docs/syncs.md does not document %s", f.name)
	}
}
