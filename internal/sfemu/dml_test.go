package sfemu

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2025, 1, 15, 10, 0, 0, 0, time.UTC)

func newTestOrg(t *testing.T) *Org {
	t.Helper()
	return New(Options{Seed: 1, Now: func() time.Time { return testNow }}).Org()
}

// must applies req and fails the test unless every row succeeded.
func must(t *testing.T, o *Org, req *DML) []Result {
	t.Helper()
	res := o.Apply(req)
	for i, r := range res {
		require.True(t, r.Success, "row %d: %+v", i, r.Errors)
	}
	return res
}

type f = map[string]any

// want is the expected outcome of one row: ok, or an error.
type want struct {
	ok      bool
	created bool
	code    string
	msg     string
	fields  []string
}

func ok(created bool) want { return want{ok: true, created: created} }

func fails(code, msg string, fields ...string) want {
	return want{code: code, msg: msg, fields: fields}
}

func TestDMLPipeline(t *testing.T) {
	t.Parallel()
	setup := []*DML{
		{Op: OpInsert, Object: "Account", Rows: []Row{{Fields: f{"Name": "Acme", "Org_Id__c": "A-1"}}}},
		{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "Existing", "Counselor_Id__c": "C-1", "Email": "e@x.org"}}}},
		{Op: OpInsert, Object: "Lead", Rows: []Row{
			{Fields: f{"LastName": "L1", "Company": "Co", "Legacy_Id__c": "dup", "Email": "same@x.org"}},
			{Fields: f{"LastName": "L2", "Company": "Co", "Legacy_Id__c": "DUP", "Email": "same@x.org"}},
		}},
	}
	tests := []struct {
		name string
		req  DML
		want []want
	}{
		{"insert", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "Smith", "attributes": f{"type": "Contact"}}}}},
			[]want{ok(true)}},
		{"field names are case-insensitive", DML{Op: OpInsert, Object: "contact", Rows: []Row{{Fields: f{"lastname": "Smith", "COUNSELOR_ID__C": "C-2"}}}},
			[]want{ok(true)}},
		{"unknown object", DML{Op: OpInsert, Object: "Nope__c", Rows: []Row{{Fields: f{}}}},
			[]want{fails(CodeInvalidType, "sObject type 'Nope__c' is not supported.")}},
		{"no object", DML{Op: OpInsert, Rows: []Row{{Fields: f{}}}},
			[]want{fails(CodeInvalidType, "Must send a concrete entity type.")}},
		{"unknown field", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Foo__c": 1}}}},
			[]want{fails(CodeInvalidField, "No such column 'Foo__c' on sobject of type Contact")}},
		{"Id in body", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "id": "003000000000001"}}}},
			[]want{fails(CodeInvalidField, msgIDSpecified)}},
		{"required fields", DML{Op: OpInsert, Object: "Opportunity", Rows: []Row{{Fields: f{"Name": "", "Amount": json.Number("5")}}}},
			[]want{fails(CodeRequiredFieldMissing, "Required fields are missing: [Name, StageName, CloseDate]", "Name", "StageName", "CloseDate")}},
		{"not createable", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Name": "y", "CreatedDate": "2024-01-01T00:00:00Z"}}}},
			[]want{fails(CodeInvalidFieldForInsert, "Unable to create/update fields: CreatedDate, Name. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", "CreatedDate", "Name")}},
		{"wrong type", DML{Op: OpInsert, Object: "Account", Rows: []Row{{Fields: f{"Name": "x", "NumberOfEmployees": "many"}}}},
			[]want{fails(CodeInvalidTypeOnField, "Employees: value not of required type: many", "NumberOfEmployees")}},
		{"too long", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "FirstName": "12345678901234567890123456789012345678901"}}}},
			[]want{fails(CodeStringTooLong, "First Name: data value too large: 12345678901234567890123456789012345678901 (max length=40)", "FirstName")}},
		{"length counts characters", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "FirstName": "ééééééééééééééééééééééééééééééééééééééé"}}}},
			[]want{ok(true)}},
		{"bad email", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Email": "nope"}}}},
			[]want{fails(CodeInvalidEmail, "Email: invalid email address: nope", "Email")}},
		{"restricted picklist", DML{Op: OpInsert, Object: "Volunteer__c", Rows: []Row{{Fields: f{"Status__c": "Gone"}}}},
			[]want{fails(CodeRestrictedPicklist, "Status: bad value for restricted picklist field: Gone", "Status__c")}},
		{"unique value taken", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Counselor_Id__c": "c-1"}}}},
			[]want{fails(CodeDuplicateValue, "duplicate value found: Counselor_Id__c duplicates value on record with id: $CON")}},
		{"unique within a batch", DML{Op: OpInsert, Object: "Contact", Rows: []Row{
			{Fields: f{"LastName": "a", "Counselor_Id__c": "N-1"}}, {Fields: f{"LastName": "b", "Counselor_Id__c": "N-1"}}}},
			[]want{ok(true), fails(CodeDuplicateValue, "duplicate value found: Counselor_Id__c duplicates value on record with id: $ROW0")}},
		{"lookup by parent external id", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Account": f{"Org_Id__c": "a-1"}}}}},
			[]want{ok(true)}},
		{"missing parent", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Account": f{"Org_Id__c": "A-9"}}}}},
			[]want{fails(CodeInvalidField, "Foreign key external ID: A-9 not found for field Org_Id__c in entity Account")}},
		{"parent reference and Id together", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "AccountId": nil, "Account": f{"Org_Id__c": "A-1"}}}}},
			[]want{fails(CodeInvalidField, "Cannot specify both an external ID reference Account and a salesforce id, AccountId")}},
		{"parent field that is not an external id", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "Account": f{"Name": "Acme"}}}}},
			[]want{fails(CodeInvalidField, "Field Name on Account is not an external ID or idLookup field")}},
		{"ambiguous parent by idLookup field", DML{Op: OpInsert, Object: "Task", Rows: []Row{{Fields: f{"Who": f{"attributes": f{"type": "Lead"}, "Email": "same@x.org"}}}}},
			[]want{fails(CodeDuplicateExternalID, "more than one record found for external id field: [$L1, $L2]")}},
		{"polymorphic parent needs a type", DML{Op: OpInsert, Object: "Task", Rows: []Row{{Fields: f{"Who": f{"Email": "e@x.org"}}}}},
			[]want{fails(CodeInvalidField, "The polymorphic relationship Who needs attributes.type to resolve Email")}},
		{"polymorphic parent with type", DML{Op: OpInsert, Object: "Task", Rows: []Row{{Fields: f{"Who": f{"attributes": f{"type": "Contact"}, "Email": "E@x.org"}}}}},
			[]want{ok(true)}},
		{"reference of the wrong object", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "AccountId": "$CON"}}}},
			[]want{fails(CodeFieldIntegrity, "Account ID: id value of incorrect type: $CON", "AccountId")}},
		{"reference to nothing", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "AccountId": "$ACC_NONE"}}}},
			[]want{fails(CodeInvalidCrossReference, msgInvalidCrossReference)}},
		{"malformed reference", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "x", "AccountId": "A-1"}}}},
			[]want{fails(CodeMalformedID, "Account ID: id value of incorrect type: A-1", "AccountId")}},
		{"update", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "$CON15", Fields: f{"FirstName": "Jo"}}}},
			[]want{ok(false)}},
		{"update cannot null a required field", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "$CON", Fields: f{"LastName": nil}}}},
			[]want{fails(CodeRequiredFieldMissing, "Required fields are missing: [LastName]", "LastName")}},
		{"update without id", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{Fields: f{"FirstName": "Jo"}}}},
			[]want{fails(CodeMissingArgument, msgNoIDInUpdate)}},
		{"update malformed id", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "xyz", Fields: f{}}}},
			[]want{fails(CodeMalformedID, "malformed id xyz")}},
		{"update id of another object", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "$ACC", Fields: f{}}}},
			[]want{fails(CodeMalformedID, "Contact ID: id value of incorrect type: $ACC")}},
		{"update unknown id", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "$CON_NONE", Fields: f{}}}},
			[]want{fails(CodeInvalidCrossReference, msgInvalidCrossReference)}},
		{"update read-only field", DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: "$CON", Fields: f{"IsDeleted": true}}}},
			[]want{fails(CodeInvalidFieldForInsert, "Unable to create/update fields: IsDeleted. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", "IsDeleted")}},
		{"upsert inserts and updates", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: []Row{
			{Fields: f{"LastName": "New", "Counselor_Id__c": "C-9"}}, {Fields: f{"FirstName": "Again", "Counselor_Id__c": "c-1"}}}},
			[]want{ok(true), ok(false)}},
		{"upsert insert still needs required fields", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: []Row{{Fields: f{"Counselor_Id__c": "C-8"}}}},
			[]want{fails(CodeRequiredFieldMissing, "Required fields are missing: [LastName]", "LastName")}},
		{"upsert without key", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: []Row{{Fields: f{"LastName": "x"}}}},
			[]want{fails(CodeMissingArgument, "Counselor_Id__c not specified", "Counselor_Id__c")}},
		{"upsert duplicate keys in one request", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: []Row{
			{Fields: f{"LastName": "a", "Counselor_Id__c": "K"}}, {Fields: f{"LastName": "b", "Counselor_Id__c": "Z"}}, {Fields: f{"LastName": "c", "Counselor_Id__c": "k"}}}},
			[]want{fails(CodeDuplicateValue, "Duplicate external id specified: K"), ok(true), fails(CodeDuplicateValue, "Duplicate external id specified: k")}},
		{"upsert key matching several records", DML{Op: OpUpsert, Object: "Lead", ExtIDField: "Legacy_Id__c", Rows: []Row{{Fields: f{"Legacy_Id__c": "Dup"}}}},
			[]want{fails(CodeDuplicateExternalID, "more than one record found for external id field: [$L1, $L2]")}},
		{"upsert on a field that is not an external id", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "LastName", Rows: []Row{{Fields: f{"LastName": "x"}}}},
			[]want{fails(CodeNotFound, msgExternalIDFieldNotFound+"LastName")}},
		{"upsert by Id", DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Id", Rows: []Row{{Fields: f{"LastName": "ById"}}, {ID: "$CON", Fields: f{"Title": "T"}}}},
			[]want{ok(true), ok(false)}},
		{"caller rejected row", DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Err: recErr(CodeInvalidField, "bad csv row")}}},
			[]want{fails(CodeInvalidField, "bad csv row")}},
		{"delete", DML{Op: OpDelete, Rows: []Row{{ID: "$CON"}, {ID: "$CON"}, {ID: "bogus"}, {ID: "$ACC_NONE"}}},
			[]want{ok(false), fails(CodeEntityIsDeleted, msgEntityDeleted), fails(CodeMalformedID, "malformed id bogus"), fails(CodeEntityIsDeleted, msgEntityDeleted)}},
		{"delete of an undeletable object", DML{Op: OpDelete, Rows: []Row{{ID: "$ORG"}}},
			[]want{fails(CodeInsufficientAccess, "insufficient access rights on object id")}},
		{"insert into a read-only object", DML{Op: OpInsert, Object: "Organization", Rows: []Row{{Fields: f{"Name": "x"}}}},
			[]want{fails(CodeInvalidType, "entity type cannot be inserted: Organization")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newTestOrg(t)
			var ids []string
			for _, s := range setup {
				for _, r := range must(t, o, s) {
					ids = append(ids, r.ID)
				}
			}
			none := func(prefix string) string { return makeID(prefix, o.pod, 999) }
			rep := strings.NewReplacer("$ACC_NONE", none("001"), "$CON_NONE", none("003"),
				"$ACC", ids[0], "$CON15", ids[1][:15], "$CON", ids[1], "$L1", ids[2], "$L2", ids[3], "$ORG", o.ID())
			req := tt.req
			req.Rows = append([]Row(nil), tt.req.Rows...)
			for i := range req.Rows {
				req.Rows[i].ID = rep.Replace(req.Rows[i].ID)
				req.Rows[i].Fields = replaceValues(rep, req.Rows[i].Fields)
			}
			res := o.Apply(&req)
			if len(res) > 0 {
				rep = strings.NewReplacer("$ROW0", res[0].ID, "$ACC", ids[0], "$CON", ids[1], "$L1", ids[2], "$L2", ids[3])
			}
			require.Len(t, res, len(tt.want))
			for i, w := range tt.want {
				r := res[i]
				if w.ok {
					require.True(t, r.Success, "row %d: %+v", i, r.Errors)
					require.Equal(t, w.created, r.Created, "row %d created", i)
					_, valid := NormalizeID(r.ID)
					require.True(t, valid, "row %d id %q", i, r.ID)
					continue
				}
				require.False(t, r.Success, "row %d", i)
				require.Len(t, r.Errors, 1, "row %d", i)
				require.Equal(t, w.code, r.Errors[0].StatusCode, "row %d: %s", i, r.Errors[0].Message)
				require.Equal(t, rep.Replace(w.msg), r.Errors[0].Message, "row %d", i)
				require.Equal(t, w.fields, r.Errors[0].Fields, "row %d", i)
			}
		})
	}
}

func replaceValues(rep *strings.Replacer, m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = rep.Replace(x)
		case map[string]any:
			out[k] = replaceValues(rep, x)
		default:
			out[k] = v
		}
	}
	return out
}
