package sfemu_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestSObjectCreate(t *testing.T) {
	t.Parallel()
	s := setup(t)
	r := s.Do(t, "POST", v+"/sobjects/Account", obj{"attributes": obj{"type": "Account"}, "Name": "Acme", "Org_Id__c": "A-1"})
	golden(t, s, "sobject_create", r)
	require.Equal(t, v+"/sobjects/Account/001D30000000003IAA", r.Header.Get("Location"))
	require.Equal(t, 201, s.Do(t, "POST", v+"/sobjects/Contact/Id", obj{"LastName": "ViaId"}).Status, "POST /sobjects/X/Id creates")

	requireError(t, s.Do(t, "POST", v+"/sobjects/Nope__c", obj{}), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", obj{"Name": "x", "id": "001000000000000"}), 400,
		sfemu.CodeInvalidField, "The Id field should not be specified in the sobject data.")
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", obj{"Name": "x", "Foo__c": 1}), 400,
		sfemu.CodeInvalidField, "No such column 'Foo__c' on sobject of type Account")
	golden(t, s, "sobject_create_required", s.Do(t, "POST", v+"/sobjects/Lead", obj{"FirstName": "x"}))
	requireError(t, s.Do(t, "POST", v+"/sobjects/Contact", obj{"LastName": "x", "Account": obj{"Org_Id__c": "A-404"}}), 400,
		sfemu.CodeInvalidField, "Foreign key external ID: A-404 not found for field Org_Id__c in entity Account")
	requireError(t, s.Do(t, "POST", v+"/sobjects/Account", obj{"Name": "y", "Org_Id__c": "A-1"}), 400, sfemu.CodeDuplicateValue,
		"duplicate value found: Org_Id__c duplicates value on record with id: 001D30000000003IAA")
}

func TestSObjectReadUpdateDelete(t *testing.T) {
	t.Parallel()
	s := setup(t)
	acc := create(t, s, "Account", obj{"Name": "Acme", "Org_Id__c": "A-1"})
	id := create(t, s, "Contact", obj{"FirstName": "Ann", "LastName": "Smith", "Counselor_Id__c": "C-1", "Account": obj{"Org_Id__c": "A-1"},
		"Hours_Available__c": 7.25, "Birthdate": "1990-05-01", "Last_Active_At__c": "2025-01-14T08:30:00+01:00", "Languages__c": "English;Spanish"})

	golden(t, s, "sobject_read", s.Do(t, "GET", v+"/sobjects/Contact/"+id, nil))
	golden(t, s, "sobject_read_fields", s.Do(t, "GET", v+"/sobjects/contact/"+id[:15]+"?fields=Name,AccountId,Email", nil))
	requireError(t, s.Do(t, "GET", v+"/sobjects/Contact/"+id+"?fields=Nope", nil), 400, sfemu.CodeInvalidField,
		"No such column 'Nope' on entity 'Contact'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.")
	requireError(t, s.Do(t, "GET", v+"/sobjects/Contact/C-1", nil), 404, sfemu.CodeNotFound,
		"Provided external ID field does not exist or is not accessible: C-1")
	requireError(t, s.Do(t, "GET", v+"/sobjects/Contact/"+acc, nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")

	require.Equal(t, 204, s.Do(t, "PATCH", v+"/sobjects/Contact/"+id, obj{"Title": "Lead counselor", "Hours_Available__c": nil}).Status)
	var rec map[string]any
	s.Do(t, "GET", v+"/sobjects/Contact/"+id+"?fields=Title,Hours_Available__c", nil).JSON(t, &rec)
	require.Equal(t, "Lead counselor", rec["Title"])
	require.Nil(t, rec["Hours_Available__c"])

	requireError(t, s.Do(t, "PATCH", v+"/sobjects/Contact/"+id, obj{"Id": id, "Title": "x"}), 400,
		sfemu.CodeInvalidField, "The Id field should not be specified in the sobject data.")
	requireError(t, s.Do(t, "PATCH", v+"/sobjects/Contact/"+id, obj{"Name": "x"}), 400, sfemu.CodeInvalidFieldForInsert,
		"Unable to create/update fields: Name. Please check the security settings of this field and verify that it is read/write for your profile or permission set.")
	golden(t, s, "sobject_update_invalid", s.Do(t, "PATCH", v+"/sobjects/Contact/"+id, obj{"LastName": nil}))

	require.Equal(t, 204, s.Do(t, "DELETE", v+"/sobjects/Contact/"+id, nil).Status)
	requireError(t, s.Do(t, "GET", v+"/sobjects/Contact/"+id, nil), 404, sfemu.CodeEntityIsDeleted, "entity is deleted")
	requireError(t, s.Do(t, "PATCH", v+"/sobjects/Contact/"+id, obj{"Title": "x"}), 404, sfemu.CodeEntityIsDeleted, "entity is deleted")
	requireError(t, s.Do(t, "DELETE", v+"/sobjects/Contact/"+id, nil), 404, sfemu.CodeEntityIsDeleted, "entity is deleted")
	requireError(t, s.Do(t, "DELETE", v+"/sobjects/Contact/003D30000000099", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "PATCH", v+"/sobjects/Contact/003D30000000099", obj{}), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "DELETE", v+"/sobjects/Organization/"+s.Org().ID(), nil), 400, sfemu.CodeInsufficientAccess, "insufficient access rights on object id")
}

func TestSObjectUpsert(t *testing.T) {
	t.Parallel()
	s := setup(t)
	path := v + "/sobjects/Contact/Counselor_Id__c/"
	r := s.Do(t, "PATCH", path+"C-1", obj{"attributes": obj{"type": "Contact"}, "LastName": "Smith"})
	golden(t, s, "upsert_created", r)
	require.NotEmpty(t, r.Header.Get("Location"))
	golden(t, s, "upsert_updated", s.Do(t, "PATCH", path+"c-1", obj{"FirstName": "Ann"}))

	// Before v46 an update answers 204 and nothing says "created".
	r = s.Do(t, "PATCH", "/services/data/v45.0/sobjects/Contact/Counselor_Id__c/C-1", obj{"Title": "x"})
	require.Equal(t, 204, r.Status)
	require.Empty(t, r.Body)
	r = s.Do(t, "PATCH", "/services/data/v45.0/sobjects/Contact/Counselor_Id__c/C-2", obj{"LastName": "Old"})
	require.Equal(t, 201, r.Status)
	require.NotContains(t, string(r.Body), "created")

	// Values are percent-decoded; raw values are taken as they are.
	require.Equal(t, 201, s.Do(t, "PATCH", path+url.PathEscape("a/b c"), obj{"LastName": "Slash"}).Status)
	require.Equal(t, 200, s.Do(t, "PATCH", path+"a%2Fb%20c", obj{"LastName": "Slash"}).Status)
	require.Equal(t, 201, s.Do(t, "PATCH", path+"x@y.inc", obj{"LastName": "Mail"}).Status)
	require.Equal(t, 201, s.Do(t, "POST", path+"C-3", obj{"LastName": "Posted"}).Status, "POST upserts too")

	requireError(t, s.Do(t, "PATCH", path+"C-1", obj{"Counselor_Id__c": "C-1", "LastName": "x"}), 400,
		sfemu.CodeInvalidField, "The Counselor_Id__c field should not be specified in the sobject data.")
	requireError(t, s.Do(t, "PATCH", path+"C-1", obj{"Id": "003000000000000", "LastName": "x"}), 400,
		sfemu.CodeInvalidField, "The Id field should not be specified in the sobject data.")
	requireError(t, s.Do(t, "PATCH", v+"/sobjects/Contact/Email/a@b.c", obj{"LastName": "x"}), 404,
		sfemu.CodeNotFound, "Provided external ID field does not exist or is not accessible: Email")
	requireError(t, s.Do(t, "PATCH", path+"C-404?updateOnly=true", obj{"LastName": "x"}), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	require.Equal(t, 200, s.Do(t, "PATCH", path+"C-1?updateOnly=true", obj{"LastName": "x"}).Status)
	requireError(t, s.Do(t, "PATCH", path+"C-9", obj{"FirstName": "NoLastName"}), 400, sfemu.CodeRequiredFieldMissing, "Required fields are missing: [LastName]")

	// Upsert by Id.
	id := create(t, s, "Contact", obj{"LastName": "ById"})
	r = s.Do(t, "PATCH", v+"/sobjects/Contact/Id/"+id, obj{"Title": "t"})
	require.Equal(t, 200, r.Status, "%s", r.Body)

	// Several matches: 300 with the records' URLs, nothing written.
	create(t, s, "Lead", obj{"LastName": "L1", "Company": "c", "Legacy_Id__c": "dup"})
	create(t, s, "Lead", obj{"LastName": "L2", "Company": "c", "Legacy_Id__c": "DUP"})
	golden(t, s, "upsert_multiple_choices", s.Do(t, "PATCH", v+"/sobjects/Lead/Legacy_Id__c/Dup", obj{"Title": "x"}))
	golden(t, s, "read_by_external_id_multiple", s.Do(t, "GET", v+"/sobjects/Lead/Legacy_Id__c/dup", nil))
	require.Equal(t, 300, s.Do(t, "DELETE", v+"/sobjects/Lead/Legacy_Id__c/dup", nil).Status)
}

func TestSObjectByExternalID(t *testing.T) {
	t.Parallel()
	s := setup(t)
	create(t, s, "Account", obj{"Name": "Acme", "Org_Id__c": "A-1"})
	golden(t, s, "read_by_external_id", s.Do(t, "GET", v+"/sobjects/Account/Org_Id__c/a-1?fields=Id,Name", nil))
	requireError(t, s.Do(t, "GET", v+"/sobjects/Account/Org_Id__c/A-2", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "GET", v+"/sobjects/Account/Name/Acme", nil), 404, sfemu.CodeNotFound,
		"Provided external ID field does not exist or is not accessible: Name")
	require.Equal(t, 204, s.Do(t, "DELETE", v+"/sobjects/Account/Org_Id__c/A-1", nil).Status)
	requireError(t, s.Do(t, "DELETE", v+"/sobjects/Account/Org_Id__c/A-1", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
	requireError(t, s.Do(t, "GET", v+"/sobjects/Account/Org_Id__c/A-1", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")
}

func TestUserAndOrganizationForTheSfCLI(t *testing.T) {
	t.Parallel()
	s := setup(t)
	userID, username := s.Org().DefaultUser()
	var user map[string]any
	r := s.Do(t, "GET", "/services/data/v51.0/sobjects/User/"+userID, nil)
	require.Equal(t, 200, r.Status)
	r.JSON(t, &user)
	require.Equal(t, username, user["Username"])
	var org map[string]any
	s.Do(t, "GET", v+"/sobjects/Organization/"+s.Org().ID()+"?fields=Name", nil).JSON(t, &org)
	require.Equal(t, "sfbridge Emulator", org["Name"])
}
