package s3src

import (
	"strings"
	"testing"
)

// FuzzParseNotification: whatever an SQS message holds, the parser never
// panics, every object it returns names a bucket and a key, and a problem
// says which record or what is wrong.
func FuzzParseNotification(f *testing.F) {
	f.Add(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"in/a%20b.ndjson","eTag":"x"}}}]}`)
	f.Add(`{"Event":"s3:TestEvent","Bucket":"b"}`)
	f.Add(`{"Type":"Notification","Message":"{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"k\"}}}]}"}`)
	f.Add(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%zz"}}}, 5]}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, body string) {
		objs, test, err := parseNotification(body)
		if test && (len(objs) > 0 || err != nil) {
			t.Fatalf("a test event with objects or an error: %v %v", objs, err)
		}
		for _, o := range objs {
			if o.Bucket == "" || o.Key == "" || o.Event == "" {
				t.Fatalf("object without bucket, key or event: %+v", o)
			}
		}
		if err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
		if err != nil && len(objs) == 0 && !test && !strings.Contains(err.Error(), "record") &&
			!strings.Contains(err.Error(), "not JSON") && !strings.Contains(err.Error(), "neither") {
			t.Fatalf("an error that names neither a record nor what the body is: %v", err)
		}
	})
}
