package sfemu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// recordRule is a compiled RecordFault with its counters.
type recordRule struct {
	RecordFault
	keys map[string]bool // lower-case key values
	ids  map[string]bool // 18-character Ids among the keys

	mu    sync.Mutex
	rng   *rand.Rand
	seen  map[string]int // attempts per key, for Times
	fired int64
}

func newRecordRule(r RecordFault, rng *rand.Rand) *recordRule {
	rr := &recordRule{RecordFault: r, keys: map[string]bool{}, ids: map[string]bool{}, rng: rng, seen: map[string]int{}}
	for _, k := range r.Keys {
		rr.keys[strings.ToLower(k)] = true
		if id, ok := NormalizeID(k); ok {
			rr.ids[id] = true
		}
	}
	if rr.Probability == 0 {
		rr.Probability = 1
	}
	if rr.Error == "" {
		rr.Error = CodeUnableToLockRow
	}
	return rr
}

// recordHook is the org's record hook: the first rule that fires fails the
// row. It runs under the org's write lock.
func (f *Faults) recordHook(info RecordInfo) *RecordError {
	s := f.set.Load()
	if s == nil {
		return nil
	}
	for _, r := range s.records {
		if e := r.check(f.org.Schema(), info); e != nil {
			return e
		}
	}
	return nil
}

func (r *recordRule) check(schema *Schema, info RecordInfo) *RecordError {
	if r.Object != "" && !strings.EqualFold(r.Object, info.Object) {
		return nil
	}
	if len(r.Ops) > 0 && !slices.Contains(r.Ops, info.Op) {
		return nil
	}
	key, ok := r.matchKey(schema, info)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Times > 0 {
		r.seen[key]++
		if r.seen[key] > r.Times {
			return nil
		}
	}
	if r.Probability < 1 && r.rng.Float64() >= r.Probability {
		return nil
	}
	r.fired++
	return r.recordError(info)
}

// matchKey finds which of the rule's keys the row carries: its upsert key,
// its Id, or the value of an external-ID field (only Field when set).
func (r *recordRule) matchKey(schema *Schema, info RecordInfo) (string, bool) {
	if len(r.keys) == 0 {
		return "", true
	}
	var cands []string
	if r.Field != "" {
		if v, ok := fieldValue(info.Fields, r.Field); ok && v != nil {
			cands = append(cands, fmt.Sprint(v))
		} else {
			cands = append(cands, info.Key)
		}
	} else {
		cands = append(cands, info.Key, info.ID)
		if obj := schema.Object(info.Object); obj != nil {
			for name, v := range info.Fields {
				if f := obj.Field(name); f != nil && f.ExternalID && v != nil {
					cands = append(cands, fmt.Sprint(v))
				}
			}
		}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if l := strings.ToLower(c); r.keys[l] {
			return l, true
		}
		if id, ok := NormalizeID(c); ok && r.ids[id] {
			return strings.ToLower(id), true
		}
	}
	return "", false
}

func (r *recordRule) recordError(info RecordInfo) *RecordError {
	msg := r.Message
	if msg == "" {
		switch r.Error {
		case CodeUnableToLockRow:
			msg = "unable to obtain exclusive access to this record"
			if info.ID != "" {
				msg += " or 1 records: " + info.ID
			}
		case CodeFieldCustomValidation:
			msg = "The record failed a validation rule (emulator fault)"
		default:
			msg = "emulator fault: " + r.Error
		}
	}
	return &RecordError{StatusCode: r.Error, Message: msg, Fields: slices.Clone(r.Fields)}
}
