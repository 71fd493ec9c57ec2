package salesforce

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxSOQLInURL bounds the encoded SOQL of one lookup query, so the GET
// stays well under Salesforce's 16,384-byte URI limit.
const maxSOQLInURL = 12_000

// numericTypes are the describe types whose SOQL literals are unquoted.
var numericTypes = map[string]bool{"double": true, "int": true, "currency": true, "percent": true, "long": true}

// DeleteByExternalID deletes the records of object whose extField is one
// of keys: it finds their Ids with SOQL (as few queries as the URI limit
// allows) and deletes them with Collections calls. One Result per key, in
// order; a key with no record is a success with an empty ID (already gone),
// and so is a record deleted meanwhile (ENTITY_IS_DELETED). The error is
// for invalid arguments or a failed describe; request-level failures are in
// the results.
func (c *Client) DeleteByExternalID(ctx context.Context, object, extField string, keys []any) ([]Result, error) {
	return c.deleteByExternalID(ctx, object, extField, keys, false)
}

func (c *Client) deleteByExternalID(ctx context.Context, object, extField string, keys []any, bulk bool) ([]Result, error) {
	if err := errors.Join(checkName("object", object), checkName("external ID field", extField)); err != nil {
		return nil, err
	}
	desc, err := c.Describe(ctx, object)
	if err != nil {
		return nil, err
	}
	f, ok := desc.Field(extField)
	if !ok {
		return nil, classified(fmt.Errorf("salesforce: delete %s: no field %s", object, extField), Verdict{Class: ClassFatal})
	}
	numeric := numericTypes[f.Type]
	out := make([]Result, len(keys))
	norm := func(s string) string {
		if numeric {
			return numericKey(s)
		}
		if f.CaseSensitive {
			return s
		}
		return strings.ToLower(s)
	}
	// Literals per distinct key, and the rows asking for each.
	rowsOf := map[string][]int{}
	var lits, order []string
	for i, k := range keys {
		cl, err := toCell(k)
		switch {
		case err != nil:
			out[i] = Result{Err: invalidRow("key: %v", err)}
			continue
		case cl.kind == cellNull || cl.text == "" || (cl.kind != cellString && cl.kind != cellNumber):
			out[i] = Result{Err: invalidRow("key %v is not text or a number", k)}
			continue
		case numeric && numericKey(cl.text) == "":
			out[i] = Result{Err: invalidRow("key %q is not a number, but %s.%s is", cl.text, object, f.Name)}
			continue
		}
		n := norm(cl.text)
		if _, seen := rowsOf[n]; !seen {
			order = append(order, n)
			if numeric {
				lits = append(lits, cl.text)
			} else {
				lits = append(lits, soqlString(cl.text))
			}
		}
		rowsOf[n] = append(rowsOf[n], i)
	}
	// Find the Ids.
	idsOf := map[string][]string{}
	prefix := fmt.Sprintf("SELECT Id, %s FROM %s WHERE %s IN (", f.Name, desc.Name, f.Name)
	for start := 0; start < len(lits); {
		end, size := start, len(url.QueryEscape(prefix))+1
		for end < len(lits) && (end == start || size+len(url.QueryEscape(lits[end]))+3 <= maxSOQLInURL) {
			size += len(url.QueryEscape(lits[end])) + 3
			end++
		}
		soql := prefix + strings.Join(lits[start:end], ", ") + ")"
		for rec, err := range c.QueryEach(ctx, soql) {
			if err != nil {
				for _, k := range order[start:end] {
					for _, i := range rowsOf[k] {
						out[i] = Result{Err: err}
					}
					delete(rowsOf, k)
				}
				break
			}
			id, _ := rec["Id"].(string)
			if k := norm(fmt.Sprint(rec[f.Name])); id != "" {
				idsOf[k] = append(idsOf[k], id)
			}
		}
		start = end
	}
	// Delete them.
	var ids []string
	var owner []string // key of each id
	for _, k := range order {
		if _, ok := rowsOf[k]; !ok {
			continue // the lookup failed
		}
		for _, id := range idsOf[k] {
			ids, owner = append(ids, id), append(owner, k)
		}
	}
	results := make([]Result, len(ids))
	if bulk {
		results, _ = c.BulkDelete(ctx, desc.Name, ids, false)
	} else {
		for start := 0; start < len(ids); start += CollectionLimit {
			end := min(start+CollectionLimit, len(ids))
			res, err := c.DeleteCollection(ctx, ids[start:end])
			for j := start; j < end; j++ {
				if err != nil {
					results[j] = Result{Err: err}
				} else {
					results[j] = res[j-start]
				}
			}
		}
	}
	byKey := map[string]Result{}
	for j, res := range results {
		if isAlreadyDeleted(res.Err) {
			res = Result{ID: ids[j]}
		}
		if have, ok := byKey[owner[j]]; !ok || (have.Err == nil && res.Err != nil) {
			byKey[owner[j]] = res // a key's result is its first failure, else its first Id
		}
	}
	for k, rows := range rowsOf {
		for _, i := range rows {
			out[i] = byKey[k] // zero Result (success, no ID) when nothing matched
		}
	}
	return out, nil
}

func isAlreadyDeleted(err error) bool {
	var re *RecordError
	return errors.As(err, &re) && normCode(re.Code) == "ENTITYISDELETED"
}
