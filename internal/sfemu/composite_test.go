package sfemu_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func sub(method, url, ref string, body any) obj {
	m := obj{"method": method, "url": url, "referenceId": ref}
	if body != nil {
		m["body"] = body
	}
	return m
}

func TestComposite(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "POST", v+"/composite", obj{"allOrNone": true, "compositeRequest": []obj{
		sub("POST", v+"/sobjects/Account", "refAccount", obj{"Name": "Acme"}),
		sub("POST", v+"/sobjects/Contact", "refContact", obj{"LastName": "Smith", "AccountId": "@{refAccount.id}", "Description": "of @{refAccount.id}"}),
		sub("GET", v+"/sobjects/Contact/@{refContact.id}?fields=AccountId,Description", "getContact", nil),
		sub("GET", v+"/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{refAccount.id}'", "q", nil),
		sub("PATCH", v+"/sobjects/Contact/@{q.records[0].Id}", "update", obj{"Title": "@{q.totalSize}"}),
		sub("PATCH", v+"/composite/sobjects/Contact/Counselor_Id__c", "coll", obj{"records": []obj{rec("Contact", obj{"LastName": "K", "Counselor_Id__c": "K-1"})}}),
		sub("DELETE", v+"/sobjects/Contact/@{refContact.id}", "del", nil),
	}})
	golden(t, s, "composite", r)
	require.Equal(t, "api-usage=1/100000", r.Header.Get("Sforce-Limit-Info"), "a composite request is one call")
	require.Equal(t, int64(1), s.Org().Counters().Calls["composite"])
}

func TestCompositeAllOrNoneRollsBack(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "POST", v+"/composite", obj{"allOrNone": true, "compositeRequest": []obj{
		sub("POST", v+"/sobjects/Account", "refAccount", obj{"Name": "Acme"}),
		sub("POST", v+"/sobjects/Contact", "refContact", obj{"AccountId": "@{refAccount.id}"}),
		sub("GET", v+"/limits", "never", nil),
	}})
	require.Equal(t, 400, r.Status, "limits is not a subrequest resource")

	r = s.Do(t, "POST", v+"/composite", obj{"allOrNone": true, "compositeRequest": []obj{
		sub("POST", v+"/sobjects/Account", "refAccount", obj{"Name": "Acme"}),
		sub("POST", v+"/sobjects/Contact", "refContact", obj{"AccountId": "@{refAccount.id}"}),
		sub("POST", v+"/sobjects/Contact", "after", obj{"LastName": "x"}),
	}})
	golden(t, s, "composite_all_or_none", r)
	n, _ := s.Org().Dump("Account", false)
	require.Empty(t, n)

	// An outer allOrNone makes a Collections subrequest all-or-none too,
	// and a failed record fails the whole composite.
	r = s.Do(t, "POST", v+"/composite", obj{"allOrNone": true, "compositeRequest": []obj{
		sub("POST", v+"/sobjects/Account", "acc", obj{"Name": "Acme"}),
		sub("POST", v+"/composite/sobjects", "coll", obj{"allOrNone": false, "records": []obj{
			rec("Contact", obj{"LastName": "ok"}), rec("Contact", obj{"FirstName": "no last name"})}}),
	}})
	golden(t, s, "composite_all_or_none_collection", r)
	n, _ = s.Org().Dump("Contact", false)
	require.Empty(t, n)
}

func TestCompositeWithoutAllOrNone(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "POST", v+"/composite", obj{"compositeRequest": []obj{
		sub("POST", v+"/sobjects/Contact", "bad", obj{"FirstName": "no last name"}),
		sub("POST", v+"/sobjects/Case", "uses", obj{"ContactId": "@{bad.id}"}),
		sub("POST", v+"/sobjects/Account", "good", obj{"Name": "Kept"}),
	}})
	golden(t, s, "composite_partial", r)
	n, _ := s.Org().Dump("Account", false)
	require.Len(t, n, 1)
}

func TestCompositeEnvelopeErrors(t *testing.T) {
	t.Parallel()
	s := setup(t)
	var many []obj
	for i := 0; i < 26; i++ {
		many = append(many, sub("GET", v+"/sobjects/Account/describe", fmt.Sprint("r", i), nil))
	}
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": many}), 400, sfemu.CodeInvalidInput,
		"The composite request can contain up to 25 subrequests; this one has 26")
	var queries []obj
	for i := 0; i < 6; i++ {
		queries = append(queries, sub("GET", v+"/query?q=SELECT+Id+FROM+Account", fmt.Sprint("q", i), nil))
	}
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": queries}), 400, sfemu.CodeInvalidInput,
		"The composite request can contain up to 5 sObject Collections or query subrequests; this one has 6")
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": []obj{sub("GET", v+"/sobjects", "bad-id", nil)}}), 400,
		sfemu.CodeInvalidInput, `compositeRequest[0]: invalid referenceId "bad-id": use only letters, digits and underscores`)
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": []obj{sub("GET", v+"/sobjects", "a", nil), sub("GET", v+"/sobjects", "a", nil)}}), 400,
		sfemu.CodeInvalidInput, `compositeRequest[1]: duplicate referenceId "a"`)
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": []obj{sub("TRACE", v+"/sobjects", "a", nil)}}), 400,
		sfemu.CodeInvalidInput, `compositeRequest[0]: unsupported method "TRACE"`)
	requireError(t, s.Do(t, "POST", v+"/composite", obj{"compositeRequest": []obj{}}), 400,
		sfemu.CodeInvalidInput, "compositeRequest must contain at least one subrequest")
}
