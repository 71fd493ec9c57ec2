package salesforce

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want column
		ok   bool
	}{
		{"LastName", column{name: "LastName", field: "LastName"}, true},
		{"Account.Org_Id__c", column{name: "Account.Org_Id__c", rel: "Account", field: "Org_Id__c"}, true},
		{"Lead:Who.Email", column{name: "Lead:Who.Email", typ: "Lead", rel: "Who", field: "Email"}, true},
		{"Lead:Email", column{}, false}, // a type needs a relationship
		{"", column{}, false},
		{"1Field", column{}, false},
		{"Account..Name", column{}, false},
		{"A.B.C", column{}, false},
		{"Last Name", column{}, false},
	} {
		// Twice: the second answer comes from the memo.
		for range 2 {
			got, ok := parseColumn(tc.name)
			require.Equal(t, tc.ok, ok, "%q", tc.name)
			require.Equal(t, tc.want, got, "%q", tc.name)
		}
	}
}
