package demo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

// Compare checks that the org holds exactly what the demo config maps from
// schema: one Account per organisation, one Contact per counselor that is
// not soft-deleted, every mapped field equal, every Contact linked to its
// organisation's Account, and no Contact for a deleted counselor. It
// returns one line per difference (at most limit), empty when in sync.
func Compare(ctx context.Context, db interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, schema string, org *sfemu.Org, limit int) ([]string, error) {
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < limit {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	q := pgx.Identifier{schema}.Sanitize()

	accounts, _ := org.Dump("Account", false)
	accountByOrg := map[string]map[string]any{}
	orgByAccountID := map[string]string{}
	for _, a := range accounts {
		if ext, _ := a["Org_Id__c"].(string); ext != "" {
			accountByOrg[ext] = a
			orgByAccountID[fmt.Sprint(a["Id"])] = ext
		}
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`SELECT id, name, city FROM %s.organisations ORDER BY id`, q))
	if err != nil {
		return nil, err
	}
	var id, name string
	var city *string
	orgs := 0
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &city}, func() error {
		orgs++
		a, ok := accountByOrg[id]
		switch {
		case !ok:
			add("organisation %s: no Account with Org_Id__c %s", id, id)
		case a["Name"] != name:
			add("organisation %s: Account.Name %q, want %q", id, a["Name"], name)
		case city != nil && a["BillingCity"] != *city:
			add("organisation %s: Account.BillingCity %q, want %q", id, a["BillingCity"], *city)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(accountByOrg) != orgs {
		add("%d Accounts with Org_Id__c, want %d", len(accountByOrg), orgs)
	}

	contacts, _ := org.Dump("Contact", false)
	contactByID := map[string]map[string]any{}
	for _, c := range contacts {
		if ext, _ := c["Counselor_Id__c"].(string); ext != "" {
			contactByID[ext] = c
		}
	}
	rows, err = db.Query(ctx, fmt.Sprintf(`SELECT id, org_id, first_name, last_name, email, hours::float8, last_active, deleted_at IS NOT NULL FROM %s.counselors`, q))
	if err != nil {
		return nil, err
	}
	var (
		cid                 int64
		orgID, first, email *string
		last                string
		hours               *float64
		lastActive          *time.Time
		deleted             bool
		live                int
	)
	_, err = pgx.ForEachRow(rows, []any{&cid, &orgID, &first, &last, &email, &hours, &lastActive, &deleted}, func() error {
		key := strconv.FormatInt(cid, 10)
		c, ok := contactByID[key]
		if deleted {
			if ok {
				add("counselor %s is deleted but its Contact %v is still there", key, c["Id"])
			}
			return nil
		}
		live++
		if !ok {
			add("counselor %s: no Contact with Counselor_Id__c %s", key, key)
			return nil
		}
		if c["LastName"] != last {
			add("counselor %s: Contact.LastName %q, want %q", key, c["LastName"], last)
		}
		if first != nil && c["FirstName"] != *first {
			add("counselor %s: Contact.FirstName %q, want %q", key, c["FirstName"], *first)
		}
		if email != nil && c["Email"] != strings.ToLower(*email) {
			add("counselor %s: Contact.Email %q, want %q", key, c["Email"], strings.ToLower(*email))
		}
		if hours != nil && !sameNumber(c["Hours_Available__c"], *hours) {
			add("counselor %s: Contact.Hours_Available__c %v, want %v", key, c["Hours_Available__c"], *hours)
		}
		if lastActive != nil && !sameInstant(c["Last_Active_At__c"], *lastActive) {
			add("counselor %s: Contact.Last_Active_At__c %v, want %v", key, c["Last_Active_At__c"], lastActive.UTC())
		}
		if orgID != nil && orgByAccountID[fmt.Sprint(c["AccountId"])] != *orgID {
			add("counselor %s: Contact.AccountId %v is not the Account of %s", key, c["AccountId"], *orgID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(contactByID) != live {
		add("%d Contacts with Counselor_Id__c, want %d", len(contactByID), live)
	}
	sort.Strings(diffs)
	return diffs, nil
}

func sameNumber(v any, want float64) bool {
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	return err == nil && f == want
}

// sameInstant compares a Salesforce datetime (millisecond precision) with a
// Postgres timestamp (microsecond precision).
func sameInstant(v any, want time.Time) bool {
	s := fmt.Sprint(v)
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Equal(want.Truncate(time.Millisecond))
		}
	}
	return false
}
