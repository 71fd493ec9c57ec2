package sfemu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDMLAllOrNone(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t)
	existing := must(t, o, &DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "Old", "Counselor_Id__c": "E"}}}})[0].ID
	res := o.Apply(&DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", AllOrNone: true, Rows: []Row{
		{Fields: f{"LastName": "Changed", "Counselor_Id__c": "E"}},
		{Fields: f{"LastName": "New", "Counselor_Id__c": "N"}},
		{Fields: f{"Counselor_Id__c": "Bad"}},
	}})
	require.Equal(t, existing, res[0].ID, "a rolled-back update keeps its id")
	require.Equal(t, CodeAllOrNoneRolledBack, res[0].Errors[0].StatusCode)
	require.Equal(t, msgRolledBack, res[0].Errors[0].Message)
	require.Empty(t, res[1].ID, "a rolled-back insert has no id")
	require.Equal(t, CodeAllOrNoneRolledBack, res[1].Errors[0].StatusCode)
	require.Equal(t, CodeRequiredFieldMissing, res[2].Errors[0].StatusCode)

	recs, _ := o.Dump("Contact", true)
	require.Len(t, recs, 1, "nothing of the request is left")
	require.Equal(t, "Old", recs[0]["LastName"])
	q, err := o.Query("SELECT Id FROM Contact WHERE Counselor_Id__c = 'N'", true)
	require.NoError(t, err)
	require.Zero(t, q.TotalSize, "the index forgot the rolled-back insert")
	must(t, o, &DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"LastName": "N", "Counselor_Id__c": "N"}}}})
	require.Equal(t, map[Op]int64{OpInsert: 2}, o.Counters().Written["Contact"], "rolled-back writes are not counted")
}

func TestDMLWritesDefaultsAndSystemFields(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t)
	userID, _ := o.DefaultUser()
	res := must(t, o, &DML{Op: OpInsert, Object: "Case", Rows: []Row{{Fields: f{"Subject": "s"}}, {Fields: f{"Subject": "t", "Priority": "High"}}}})
	must(t, o, &DML{Op: OpInsert, Object: "Contact", Rows: []Row{{Fields: f{"FirstName": "Ada", "LastName": "Lovelace", "DoNotCall": nil}}}})
	must(t, o, &DML{Op: OpInsert, Object: "Volunteer__c", Rows: []Row{{Fields: f{"Volunteer_Id__c": "V1"}}}})
	cases, _ := o.Dump("Case", false)
	require.Equal(t, "New", cases[0]["Status"])
	require.Equal(t, "Medium", cases[0]["Priority"])
	require.Equal(t, "High", cases[1]["Priority"])
	require.Equal(t, "00001001", cases[0]["CaseNumber"])
	require.Equal(t, "00001002", cases[1]["CaseNumber"])
	require.Equal(t, res[0].ID, cases[0]["Id"])
	require.Equal(t, userID, cases[0]["OwnerId"])
	require.Equal(t, userID, cases[0]["CreatedById"])
	require.Equal(t, "2025-01-15T10:00:00.000+0000", cases[0]["CreatedDate"])
	require.Equal(t, false, cases[0]["IsDeleted"])
	contacts, _ := o.Dump("Contact", false)
	require.Equal(t, "Ada Lovelace", contacts[0]["Name"])
	require.Equal(t, false, contacts[0]["DoNotCall"])
	require.Equal(t, false, contacts[0]["HasOptedOutOfEmail"])
	vols, _ := o.Dump("Volunteer__c", false)
	require.Equal(t, vols[0]["Id"], vols[0]["Name"], "a custom object's Name defaults to the Id")
	require.Equal(t, "Active", vols[0]["Status__c"])

	must(t, o, &DML{Op: OpUpdate, Object: "Contact", Rows: []Row{{ID: contacts[0]["Id"].(string), Fields: f{"FirstName": nil, "LastName": "Byron"}}}})
	contacts, _ = o.Dump("Contact", false)
	require.Equal(t, "Byron", contacts[0]["Name"])
	require.NotContains(t, contacts[0], "FirstName")
}

func TestDMLRecordHook(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t)
	var seen []RecordInfo
	o.SetRecordHook(func(ri RecordInfo) *RecordError {
		seen = append(seen, ri)
		if ri.Key == "LOCKED" {
			return recErr(CodeUnableToLockRow, "unable to obtain exclusive access to this record or 1 records: x")
		}
		return nil
	})
	res := o.Apply(&DML{Op: OpUpsert, Object: "Contact", ExtIDField: "Counselor_Id__c", Rows: []Row{
		{Fields: f{"LastName": "a", "Counselor_Id__c": "LOCKED"}},
		{Fields: f{"LastName": "b", "Counselor_Id__c": "free"}},
	}})
	require.Equal(t, CodeUnableToLockRow, res[0].Errors[0].StatusCode)
	require.True(t, res[1].Success)
	require.Len(t, seen, 2)
	require.Equal(t, RecordInfo{Object: "Contact", Op: OpInsert, Key: "free", Fields: map[string]any{"LastName": "b", "Counselor_Id__c": "free"}}, seen[1])
	o.SetRecordHook(nil)
	must(t, o, &DML{Op: OpDelete, Rows: []Row{{ID: res[1].ID}}})
}

func TestOrgResetKeepsSessionsAndBuiltins(t *testing.T) {
	t.Parallel()
	o := newTestOrg(t)
	s := o.NewSession("", -1)
	must(t, o, &DML{Op: OpInsert, Object: "Account", Rows: []Row{{Fields: f{"Name": "x"}}}})
	o.SetAPIUsage(10)
	o.Reset()
	_, ok := o.Session(s.Token)
	require.True(t, ok)
	used, max := o.APIUsage()
	require.Equal(t, int64(0), used)
	require.Equal(t, int64(100000), max)
	require.Equal(t, 0, o.ObjectCounts()["Account"])
	require.Equal(t, 1, o.ObjectCounts()["User"])
	require.Equal(t, 1, o.ObjectCounts()["Organization"])
	res := must(t, o, &DML{Op: OpInsert, Object: "Account", Rows: []Row{{Fields: f{"Name": "y"}}}})
	require.Equal(t, makeID("001", o.pod, 3), res[0].ID, "ids restart after a reset")
}

func TestSessions(t *testing.T) {
	t.Parallel()
	now := testNow
	o := New(Options{Seed: 7, Now: func() time.Time { return now }, SessionTTL: time.Hour}).Org()
	s := o.NewSession("", 0)
	require.Regexp(t, `^00D\w{12}![.\w]+$`, s.Token, "sfdx-core's token shape")
	require.Equal(t, testNow.Add(time.Hour), s.Expires)
	forever := o.NewSession("", -1)
	require.True(t, forever.Expires.IsZero())
	_, ok := o.Session(s.Token)
	require.True(t, ok)
	now = now.Add(time.Hour)
	_, ok = o.Session(s.Token)
	require.False(t, ok, "expired")
	_, ok = o.Session(forever.Token)
	require.True(t, ok)
	require.Equal(t, 1, o.ExpireSessions())
	_, ok = o.Session(forever.Token)
	require.False(t, ok)
	other := New(Options{Seed: 7, Now: func() time.Time { return testNow }}).Org()
	require.Equal(t, s.Token, other.NewSession("", 0).Token, "deterministic with a seed")
}
