package sfemu_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

type saveResult struct {
	ID      string              `json:"id"`
	Success bool                `json:"success"`
	Created *bool               `json:"created"`
	Errors  []sfemu.RecordError `json:"errors"`
}

func rec(typ string, fields obj) obj {
	fields["attributes"] = obj{"type": typ}
	return fields
}

func TestCollectionsCreate(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "POST", v+"/composite/sobjects", obj{"allOrNone": false, "records": []obj{
		rec("Account", obj{"Name": "Acme", "Org_Id__c": "A-1"}),
		rec("Contact", obj{"LastName": "Smith", "Account": obj{"Org_Id__c": "A-1"}}),
		rec("Contact", obj{"FirstName": "NoLast"}),
		{"LastName": "NoType"},
	}})
	golden(t, s, "collections_create", r)

	r = s.Do(t, "POST", v+"/composite/sobjects/", obj{"allOrNone": true, "records": []obj{
		rec("Account", obj{"Name": "Kept?"}),
		rec("Account", obj{"Name": "Dup", "Org_Id__c": "A-1"}),
	}})
	golden(t, s, "collections_create_all_or_none", r)
	n, _ := s.Org().Dump("Account", false)
	require.Len(t, n, 1, "the allOrNone request left nothing behind")

	records := make([]obj, 201)
	for i := range records {
		records[i] = rec("Account", obj{"Name": fmt.Sprint(i)})
	}
	golden(t, s, "collections_too_many", s.Do(t, "POST", v+"/composite/sobjects", obj{"records": records}))

	var types []obj
	for i := 0; i < 11; i++ {
		typ := []string{"Account", "Lead"}[i%2]
		types = append(types, rec(typ, obj{"Name": "x", "LastName": "x", "Company": "c"}))
	}
	requireError(t, s.Do(t, "POST", v+"/composite/sobjects", obj{"records": types}), 400, sfemu.CodeExceededMaxTypes,
		"Cannot have more than 10 chunks in a single operation. Please rearrange the data to reduce chunking.")
	requireError(t, s.Do(t, "POST", v+"/composite/sobjects", `{"records": [1]}`), 400, sfemu.CodeJSONParser,
		"Cannot deserialize value of type map[string]interface {} from number at [line:1, column:15]")
}

func TestCollectionsUpdate(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a := create(t, s, "Account", obj{"Name": "A"})
	c := create(t, s, "Contact", obj{"LastName": "C"})
	r := s.Do(t, "PATCH", v+"/composite/sobjects", obj{"records": []obj{
		rec("Account", obj{"id": a, "Name": "A2"}),
		rec("Contact", obj{"Id": c, "Title": "T"}),
		rec("Contact", obj{"Title": "no id"}),
		rec("Contact", obj{"id": a, "Title": "wrong object"}),
	}})
	golden(t, s, "collections_update", r)
	var acc map[string]any
	s.Do(t, "GET", v+"/sobjects/Account/"+a+"?fields=Name", nil).JSON(t, &acc)
	require.Equal(t, "A2", acc["Name"])
}

func TestCollectionsUpsert(t *testing.T) {
	t.Parallel()
	s := setup(t)
	create(t, s, "Account", obj{"Name": "Acme", "Org_Id__c": "A-1"})
	create(t, s, "Contact", obj{"LastName": "Existing", "Counselor_Id__c": "C-1"})
	path := v + "/composite/sobjects/Contact/Counselor_Id__c"
	r := s.Do(t, "PATCH", path, obj{"allOrNone": false, "records": []obj{
		rec("Contact", obj{"LastName": "New", "Counselor_Id__c": "C-2", "Account": obj{"attributes": obj{"type": "Account"}, "Org_Id__c": "A-1"}}),
		rec("Contact", obj{"FirstName": "Updated", "Counselor_Id__c": "c-1"}),
		rec("Contact", obj{"LastName": "Dup", "Counselor_Id__c": "D"}),
		rec("Contact", obj{"LastName": "Dup", "Counselor_Id__c": "d"}),
		rec("Contact", obj{"LastName": "Orphan", "Counselor_Id__c": "C-3", "Account": obj{"Org_Id__c": "A-404"}}),
		rec("Account", obj{"Name": "Wrong type", "Counselor_Id__c": "C-4"}),
		{"LastName": "No attributes", "Counselor_Id__c": "C-5"},
		rec("Contact", obj{"LastName": "No key"}),
	}})
	golden(t, s, "collections_upsert", r)

	// Under allOrNone the failure of one row rolls back the others.
	r = s.Do(t, "PATCH", path+"/", obj{"allOrNone": true, "records": []obj{
		rec("Contact", obj{"LastName": "Again", "Counselor_Id__c": "C-1"}),
		rec("Contact", obj{"LastName": "Brand new", "Counselor_Id__c": "C-6"}),
		rec("Contact", obj{"LastName": strings.Repeat("x", 81), "Counselor_Id__c": "C-7"}),
	}})
	golden(t, s, "collections_upsert_all_or_none", r)
	var q struct{ TotalSize int }
	s.Do(t, "GET", v+"/query?q=SELECT+Id+FROM+Contact+WHERE+Counselor_Id__c+IN+('C-6','C-7')", nil).JSON(t, &q)
	require.Zero(t, q.TotalSize)

	requireError(t, s.Do(t, "PATCH", v+"/composite/sobjects/Contact/LastName", obj{"records": []obj{}}), 404, sfemu.CodeNotFound,
		"Provided external ID field does not exist or is not accessible: LastName")
	requireError(t, s.Do(t, "PATCH", v+"/composite/sobjects/Nope/X", obj{"records": []obj{}}), 404, sfemu.CodeNotFound,
		"The requested resource does not exist")
}

func TestCollectionsDeleteAndRetrieve(t *testing.T) {
	t.Parallel()
	s := setup(t)
	a := create(t, s, "Account", obj{"Name": "A", "Org_Id__c": "A-1"})
	c := create(t, s, "Contact", obj{"LastName": "C"})
	c2 := create(t, s, "Contact", obj{"LastName": "C2"})

	golden(t, s, "collections_retrieve", s.Do(t, "POST", v+"/composite/sobjects/Account", obj{"ids": []string{a, c, a[:15]}, "fields": []string{"Id", "Name", "Org_Id__c"}}))
	var got []map[string]any
	s.Do(t, "GET", v+"/composite/sobjects/Contact?ids="+c+","+c2+"&fields=LastName", nil).JSON(t, &got)
	require.Len(t, got, 2)
	require.Equal(t, "C2", got[1]["LastName"])
	requireError(t, s.Do(t, "GET", v+"/composite/sobjects/Contact?ids=nope", nil), 400, sfemu.CodeMalformedID, "malformed id nope")

	r := s.Do(t, "DELETE", v+"/composite/sobjects?ids="+c+",bogus,"+c+"&allOrNone=true", nil)
	golden(t, s, "collections_delete_all_or_none", r)
	r = s.Do(t, "DELETE", v+"/composite/sobjects/?ids="+a+","+c+",bogus&allOrNone=false", nil)
	golden(t, s, "collections_delete", r)
	var res []saveResult
	r.JSON(t, &res)
	require.True(t, res[0].Success && res[1].Success && !res[2].Success)
	requireError(t, s.Do(t, "DELETE", v+"/composite/sobjects", nil), 400, sfemu.CodeMissingArgument, "ids parameter is required")
	ids := strings.Repeat(c2+",", 201)
	requireError(t, s.Do(t, "DELETE", v+"/composite/sobjects?ids="+ids, nil), 400, sfemu.CodeExceededIDLimit,
		"record limit reached. cannot submit more than 200 records into this call")
	require.Equal(t, int64(1), s.Org().Counters().Written["Contact"][sfemu.OpDelete], "the rolled-back delete is not counted")
}
