package sfemu

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultSchema(t *testing.T) {
	t.Parallel()
	s := DefaultSchema()
	for name, prefix := range map[string]string{
		"Account": "001", "Contact": "003", "Lead": "00Q", "Case": "500", "Opportunity": "006",
		"Task": "00T", "User": "005", "Organization": "00D", "Volunteer__c": "a00", "Shift__c": "a01",
	} {
		o := s.Object(strings.ToLower(name))
		require.NotNil(t, o, name)
		require.Equal(t, name, o.Name)
		require.Equal(t, prefix, o.KeyPrefix, name)
		require.Equal(t, o, s.ObjectByPrefix(prefix+"000000000000"))
		for _, sys := range []string{"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp"} {
			require.NotNil(t, o.Field(sys), "%s.%s", name, sys)
		}
	}
	contact := s.Object("Contact")
	ext := contact.Field("counselor_id__c")
	require.True(t, ext.ExternalID && ext.Unique && ext.IDLookup && ext.Custom && !ext.CaseSensitive)
	require.Equal(t, "Counselor ID", ext.Label)
	require.True(t, contact.Field("LastName").Required())
	require.False(t, contact.Field("FirstName").Required())
	require.False(t, contact.Field("Name").Createable, "calculated")
	require.Equal(t, contact.Field("AccountId"), contact.Relationship("account"))
	require.Equal(t, []string{"Account"}, contact.Field("AccountId").ReferenceTo)
	require.False(t, s.Object("Lead").Field("Status").Required(), "defaulted on create")
	require.True(t, s.Object("Opportunity").Field("CloseDate").Required())
	require.False(t, contact.Field("DoNotCall").Required(), "booleans default to false")
	require.Equal(t, "Volunteer__r", s.Object("Shift__c").Field("Volunteer__c").RelationshipName)
	require.NotNil(t, s.Object("Volunteer__c").Field("Name"), "custom objects get Name")
	require.Nil(t, s.Object("User").Field("OwnerId"))
	require.Equal(t, []string{"Contact", "Lead"}, s.Object("Task").Field("WhoId").ReferenceTo)
	require.NotNil(t, contact.ExternalIDField("Id"))
	require.Nil(t, contact.ExternalIDField("LastName"))
}

func TestParseSchemaBaseDefault(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema([]byte(`
version: 1
base: default
objects:
  - name: Contact
    fields:
      - {name: Badge__c, type: string, length: 10, externalId: true, unique: true}
      - {name: LastName, type: string, length: 20, required: true}
  - name: Donation__c
    fields:
      - {name: Donation_Id__c, type: string, externalId: true}
      - {name: Donor__c, type: reference, referenceTo: [Contact]}
      - {name: Amount__c, type: currency, precision: 10, scale: 2, required: true}
`))
	require.NoError(t, err)
	c := s.Object("Contact")
	require.Equal(t, 20, c.Field("LastName").Length)
	require.True(t, c.Field("Badge__c").ExternalID)
	require.NotNil(t, c.Field("Counselor_Id__c"), "default fields are kept")
	d := s.Object("Donation__c")
	require.Equal(t, "a02", d.KeyPrefix)
	require.Equal(t, "Donor__r", d.Field("Donor__c").RelationshipName)
	require.True(t, d.Field("Amount__c").Required())
	require.Equal(t, 255, d.Field("Donation_Id__c").Length)
}

func TestParseSchemaWithoutBase(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema([]byte(`
objects:
  - name: Thing__c
    keyPrefix: a5X
    fields:
      - {name: Code__c, type: int, externalId: true, unique: true}
`))
	require.NoError(t, err)
	require.Nil(t, s.Object("Account"))
	require.NotNil(t, s.Object("User"), "User and Organization are always there")
	require.NotNil(t, s.Object("Organization"))
	require.Equal(t, "a5X", s.Object("Thing__c").KeyPrefix)
}

func TestParseSchemaErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "objects:\n  - name: A__c\n    colour: red\n", []string{"field colour not found"}},
		{"bad version", "version: 2\n", []string{"version: unsupported schema version 2"}},
		{"bad base", "base: other\n", []string{`base: must be "none" or "default"`}},
		{"bad type", "objects:\n  - name: A__c\n    fields:\n      - {name: X__c, type: strin}\n",
			[]string{`objects[0].fields[0]: type: unknown or unsupported type "strin"`}},
		{"everything at once", `
objects:
  - name: Thing
    fields:
      - {name: Parent__c, type: reference, referenceTo: [Nope]}
      - {name: X__c, type: boolean, externalId: true}
      - {name: Y__c, type: string}
      - {name: y__c, type: string}
  - name: thing
  - name: "9bad"
  - name: B__c
    keyPrefix: "12"
    fields:
      - {name: P__c, type: picklist, restricted: true}
      - {name: Q__c, type: int, default: abc}
      - {name: CreatedDate, type: datetime}
`, []string{
			"objects[0].keyPrefix: required for standard object Thing",
			"objects[0].fields[1]: externalId: type boolean cannot be an external ID",
			`objects[0].fields[3].name: duplicate field "y__c"`,
			`objects[1].name: duplicate object "thing"`,
			`objects[2].name: invalid object name "9bad"`,
			`objects[3].keyPrefix: must be 3 letters or digits, got "12"`,
			"objects[3].fields[1]: default: Q: value not of required type: abc",
			"objects[3]: field CreatedDate is maintained by the org and cannot be declared",
			`objects[0].fields.Parent__c.referenceTo[0]: unknown object "Nope"`,
			"objects[3].fields.P__c.values: a restricted picklist needs values",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseSchema([]byte(tt.yaml))
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestHumanize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"LastName": "Last Name", "AccountId": "Account ID", "Counselor_Id__c": "Counselor Id",
		"Name": "Name", "Id": "Id", "Minutes__c": "Minutes", "Parent__r": "Parent",
	} {
		require.Equal(t, want, humanize(in), in)
	}
}

// TestDocumentedSchemaExample keeps the schema file example of
// docs/emulator.md valid.
func TestDocumentedSchemaExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/emulator.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "### Schema file")
	require.True(t, ok)
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	example, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	s, err := ParseSchema([]byte(example))
	require.NoError(t, err)
	d := s.Object("Donation__c")
	require.Equal(t, "a5X", d.KeyPrefix)
	require.True(t, d.Field("Amount__c").Required())
	require.Equal(t, "Donor__r", d.Field("Donor__c").RelationshipName)
	require.NotNil(t, s.Object("Contact").Field("Badge__c"))

	o := New(Options{Schema: s, Now: func() time.Time { return testNow }}).Org()
	contact := o.Apply(&DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: map[string]any{"LastName": "Donor"}}}})[0].ID
	res := o.Apply(&DML{Op: OpInsert, Object: "Donation__c", Rows: []Row{{Fields: map[string]any{
		"Donation_Id__c": "D-1", "Amount__c": "12.345", "Donor__r": map[string]any{"Id": contact}}}}})
	require.True(t, res[0].Success, "%+v", res[0].Errors)
	recs, _ := o.Dump("Donation__c", false)
	require.Equal(t, "Web 00001001", recs[0]["Label__c"])
	require.Equal(t, 12.35, recs[0]["Amount__c"])
}
