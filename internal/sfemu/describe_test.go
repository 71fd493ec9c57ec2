package sfemu_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	s := setup(t)
	golden(t, s, "describe_global", s.Do(t, "GET", v+"/sobjects/", nil))
	golden(t, s, "describe_contact", s.Do(t, "GET", v+"/sobjects/Contact/describe/", nil))
	var shift struct {
		Name   string
		Fields []struct {
			Name              string
			Type              string
			Nillable          bool
			Createable        bool
			DefaultedOnCreate bool
			ReferenceTo       []string
			RelationshipName  *string
		}
	}
	s.Do(t, "GET", v+"/sobjects/shift__c/describe", nil).JSON(t, &shift)
	require.Equal(t, "Shift__c", shift.Name)
	require.Equal(t, "Volunteer__c", shift.Fields[3].Name)
	require.Equal(t, []string{"Volunteer__c"}, shift.Fields[3].ReferenceTo)
	require.Equal(t, "Volunteer__r", *shift.Fields[3].RelationshipName)
	require.True(t, !shift.Fields[3].Nillable && shift.Fields[3].Createable && !shift.Fields[3].DefaultedOnCreate, "required")
	golden(t, s, "sobject_basic_info", s.Do(t, "GET", v+"/sobjects/Volunteer__c", nil))
	requireError(t, s.Do(t, "GET", v+"/sobjects/Nope/describe", nil), 404, sfemu.CodeNotFound, "The requested resource does not exist")

	since := http.Header{"Authorization": {"Bearer " + s.Token}, "If-Modified-Since": {fixedNow.Add(time.Minute).Format(http.TimeFormat)}}
	r := s.DoWith(t, "GET", v+"/sobjects/Contact/describe", nil, since)
	require.Equal(t, 304, r.Status)
	require.Empty(t, r.Body)
	require.Equal(t, 304, s.DoWith(t, "GET", v+"/sobjects", nil, since).Status)
	since.Set("If-Modified-Since", fixedNow.Add(-time.Hour).Format(http.TimeFormat))
	require.Equal(t, 200, s.DoWith(t, "GET", v+"/sobjects", nil, since).Status)
}
