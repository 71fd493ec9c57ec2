package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
)

func TestUpsertCollectionMixedResults(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	var body collectionRequest
	var path, method string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		path, method = r.URL.Path, r.Method
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		writeJSON(w, 200, `[
			{"id":"003xx0000004GxDAAU","success":true,"errors":[],"created":true},
			{"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]},
			{"id":"003xx0000004GxEAAU","success":true,"errors":[],"created":false},
			{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record or 1 records: 001xx","fields":[]}]},
			{"success":false,"errors":[{"statusCode":"INVALID_FIELD","message":"Foreign key external ID: ORG-9 not found for field Org_Id__c in entity Account","fields":[]}]}
		]`)
	})
	rows := []map[string]any{
		{"Ext__c": "A", "LastName": "a"},
		{"Ext__c": "B"},
		{"Ext__c": "C", "LastName": "c"},
		{"Ext__c": "bad", "Amount": struct{}{}}, // never sent
		{"Ext__c": "D", "LastName": "d"},
		{"Ext__c": "E", "LastName": "e", "Account": map[string]any{"Org_Id__c": "ORG-9"}},
	}
	res, err := c.UpsertCollection(context.Background(), "Contact", "Ext__c", rows)
	require.NoError(t, err)
	require.Equal(t, "/services/data/v62.0/composite/sobjects/Contact/Ext__c", path)
	require.Equal(t, http.MethodPatch, method)
	require.False(t, body.AllOrNone)
	require.Len(t, body.Records, 5, "the invalid row is not sent")
	require.Equal(t, map[string]any{"type": "Contact"}, body.Records[0]["attributes"])
	require.Equal(t, map[string]any{"Org_Id__c": "ORG-9"}, body.Records[4]["Account"])

	require.Len(t, res, 6)
	require.Equal(t, Result{ID: "003xx0000004GxDAAU", Created: true}, res[0])
	require.Equal(t, Result{ID: "003xx0000004GxEAAU"}, res[2])
	require.True(t, res[0].OK())

	checks := []struct {
		i     int
		code  string
		class Class
	}{{1, "REQUIRED_FIELD_MISSING", ClassPermanent}, {3, CodeInvalidRow, ClassPermanent}, {4, "UNABLE_TO_LOCK_ROW", ClassRetry}, {5, "INVALID_FIELD", ClassRetry}}
	for _, ck := range checks {
		var re *RecordError
		require.True(t, errors.As(res[ck.i].Err, &re), "row %d", ck.i)
		require.Equal(t, ck.code, re.Code, "row %d", ck.i)
		require.Equal(t, ck.class, Classify(res[ck.i].Err).Class, "row %d", ck.i)
		require.True(t, IsRecordError(res[ck.i].Err))
	}
	require.True(t, failure.IsPermanent(res[1].Err))
	require.Equal(t, []string{"LastName"}, func() []string { var re *RecordError; errors.As(res[1].Err, &re); return re.Fields }())
}

func TestUpsertCollectionErrors(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	rows := make([]map[string]any, 201)
	_, err := c.UpsertCollection(context.Background(), "Contact", "Ext__c", rows)
	require.ErrorContains(t, err, "at most 200")
	_, err = c.UpsertCollection(context.Background(), "Contact; DROP", "Ext__c", nil)
	require.Error(t, err)
	require.Equal(t, ClassFatal, Classify(err).Class)

	f.setData(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
	_, err = c.UpsertCollection(context.Background(), "Contact", "Ext__c", []map[string]any{{"Ext__c": "a"}})
	require.ErrorContains(t, err, "0 results for 1 records")

	f.setData(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `[{"errorCode":"NOT_FOUND","message":"Provided external ID field does not exist or is not accessible: Nope__c"}]`)
	})
	_, err = c.UpsertCollection(context.Background(), "Contact", "Nope__c", []map[string]any{{"Nope__c": "a"}})
	require.Error(t, err)
	require.Equal(t, ClassFatal, Classify(err).Class)
	require.False(t, IsRecordError(err))

	// Rows that are all invalid make no call.
	before := c.Requests()
	res, err := c.UpsertCollection(context.Background(), "Contact", "Ext__c", []map[string]any{{"Name": "no key"}})
	require.NoError(t, err)
	require.ErrorContains(t, res[0].Err, "external ID field Ext__c is missing")
	require.Equal(t, before, c.Requests())
}

func TestUpdateAndDeleteCollection(t *testing.T) {
	t.Parallel()
	f := newFakeSF(t)
	c := staticClient(t, f, nil)
	var got []string
	f.setData(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+string(b))
		if r.Method == http.MethodDelete {
			writeJSON(w, 200, `[{"id":"001RM000003oLrfYAE","success":true,"errors":[]},
				{"success":false,"errors":[{"statusCode":"ENTITY_IS_DELETED","message":"entity is deleted","fields":[]}]}]`)
			return
		}
		writeJSON(w, 200, `[{"id":"001RM000003oLrfYAE","success":true,"errors":[]}]`)
	})
	res, err := c.UpdateCollection(context.Background(), "Account", []map[string]any{{"Id": "001RM000003oLrfYAE", "Name": "n"}, {"Name": "no id"}})
	require.NoError(t, err)
	require.Equal(t, Result{ID: "001RM000003oLrfYAE"}, res[0])
	require.ErrorContains(t, res[1].Err, "needs the record's Id")
	require.Equal(t, `PATCH /services/data/v62.0/composite/sobjects? {"allOrNone":false,"records":[{"Id":"001RM000003oLrfYAE","Name":"n","attributes":{"type":"Account"}}]}`, got[0])

	res, err = c.DeleteCollection(context.Background(), []string{"001RM000003oLrfYAE", "bad id", "001RM000003oLrB000"})
	require.NoError(t, err)
	require.Len(t, got, 2, "%v %v", got, res)
	require.Equal(t, "DELETE /services/data/v62.0/composite/sobjects?allOrNone=false&ids=001RM000003oLrfYAE%2C001RM000003oLrB000 ", got[1])
	require.True(t, res[0].OK())
	require.ErrorContains(t, res[1].Err, "not a Salesforce Id")
	require.True(t, isAlreadyDeleted(res[2].Err))
}

func TestUpsertOne(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   Result
		class  Class // when an error is expected
	}{
		{"created", 201, `{"id":"003A","success":true,"errors":[],"created":true}`, Result{ID: "003A", Created: true}, -1},
		{"updated", 200, `{"id":"003A","success":true,"errors":[],"created":false}`, Result{ID: "003A"}, -1},
		{"old API 204", 204, ``, Result{}, -1},
		{"multiple matches", 300, `["/services/data/v62.0/sobjects/Contact/003A","/services/data/v62.0/sobjects/Contact/003B"]`, Result{}, ClassPermanent},
		{"validation", 400, `[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]}]`, Result{}, ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSF(t)
			c := staticClient(t, f, nil)
			var path, body string
			f.setData(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				path, body = r.URL.EscapedPath(), string(b)
				if tt.status == 204 {
					w.WriteHeader(204)
					return
				}
				writeJSON(w, tt.status, tt.body)
			})
			res, err := c.UpsertOne(context.Background(), "Contact", "Ext__c", map[string]any{"ext__c": "a/b c", "LastName": "x"})
			require.Equal(t, "/services/data/v62.0/sobjects/Contact/Ext__c/a%2Fb%20c", path)
			require.JSONEq(t, `{"LastName":"x"}`, body, "the key travels in the path only")
			if tt.class >= 0 {
				require.Error(t, err)
				require.Equal(t, tt.class, Classify(err).Class)
				if tt.status == 300 {
					require.True(t, strings.Contains(err.Error(), "MULTIPLE_CHOICES"), err.Error())
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, res)
		})
	}
}
