package config

import (
	"regexp"
	"strings"
)

// sfName matches Salesforce API names: Contact, Org_Id__c, ns__Thing__c, Parent__r.
var sfName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,79}$`)

func (v *validator) sfName(p, s, what string) bool {
	if s == "" {
		v.required(p, "("+what+")")
		return false
	}
	if !sfName.MatchString(s) || strings.HasSuffix(s, "_") && !strings.HasSuffix(s, "__c") {
		v.add(p, "%s is not a Salesforce API name (%s)", v.show(p, s), what)
		return false
	}
	return true
}

func (v *validator) syncs() {
	if len(v.c.Syncs) == 0 {
		v.add("syncs", "list at least one sync (name, from, object, external_id, fields)")
		return
	}
	names := make([]string, len(v.c.Syncs))
	for i, s := range v.c.Syncs {
		p := index("syncs", i)
		names[i] = s.Name
		v.identName(p+".name", s.Name)
		v.from(p+".from", s)
		if v.c.present(p+".when") && strings.TrimSpace(s.When) == "" {
			v.add(p+".when", "empty expression; remove the key or write a condition")
		}
		v.sfName(p+".object", s.Object, "the object's API name, e.g. Contact or Rescue__c")
		v.sfName(p+".external_id", s.ExternalID, "the external ID field upserts match on, e.g. Counselor_Id__c")
		v.fields(p, s)
		enum(v, p+".nulls", s.Nulls, NullPolicies)
		enum(v, p+".deletes", s.Deletes, DeletePolicies)
		// Values equal to delivery's (usually inherited) are reported there, once.
		if s.BatchSize != v.c.Delivery.BatchSize {
			v.intRange(p+".batch_size", s.BatchSize, 1, maxBatch, "")
		}
		if s.Concurrency != v.c.Delivery.Concurrency {
			v.concurrency(p+".concurrency", s.Concurrency)
		}
	}
	v.unique("syncs", names)
}

// from checks "source[.glob]": the source must be defined, and for a
// postgres source the glob must match one of its tables.
func (v *validator) from(p string, s Sync) {
	if s.From == "" {
		v.required(p, "(a source name, optionally .table or .event_type glob)")
		return
	}
	src, glob := s.SourceName(), s.Collections()
	source, ok := v.c.Source(src)
	if !ok {
		var defined []string
		for i, d := range v.c.Sources {
			if d.Name == "" {
				continue
			}
			if r, ok := v.c.refs[index("sources", i)+".name"]; ok {
				defined = append(defined, "the value of "+r)
				continue
			}
			defined = append(defined, d.Name)
		}
		if len(defined) == 0 {
			v.add(p, "no source named %s (no sources are defined)", v.show(p, src))
		} else {
			v.add(p, "no source named %s (sources: %s)", v.show(p, src), strings.Join(defined, ", "))
		}
		return
	}
	if glob == "" && strings.Contains(s.From, ".") {
		v.add(p, "nothing after the dot; write the source name alone, or source.<glob>")
		return
	}
	if glob == "" {
		return
	}
	if _, valid := globMatches(glob, ""); !valid {
		v.add(p, "%s is not a valid glob", v.show(p, glob))
		return
	}
	var tables []string
	switch {
	case source.Type == SourcePostgresPoll && source.PostgresPoll != nil:
		for _, t := range source.PostgresPoll.Tables {
			tables = append(tables, t.Table)
		}
	case source.Type == SourcePostgresCDC && source.PostgresCDC != nil:
		for _, t := range source.PostgresCDC.Tables {
			tables = append(tables, t.Table)
		}
	default:
		return // event types are not known in advance
	}
	shown := make([]string, len(tables))
	for i, t := range tables {
		if m, _ := globMatches(glob, t); m {
			return
		}
		shown[i] = t
		if r, ok := v.c.refs[index(v.sourcePath(source)+".tables", i)+".table"]; ok {
			shown[i] = "the value of " + r
		}
	}
	v.add(p, "%s matches no table of source %s (tables: %s)", v.show(p, glob), source.Name, strings.Join(shown, ", "))
}

// sourcePath is the YAML path of a source.
func (v *validator) sourcePath(s *Source) string {
	for i := range v.c.Sources {
		if &v.c.Sources[i] == s {
			return index("sources", i)
		}
	}
	return "sources"
}

func (v *validator) fields(p string, s Sync) {
	fp := p + ".fields"
	if len(s.Fields) == 0 {
		v.add(fp, "map at least the external ID field (Salesforce field: expression)")
		return
	}
	seen := map[string]string{}
	hasExternalID := false
	for _, f := range s.Fields {
		kp := join(fp, f.Name)
		lower := strings.ToLower(f.Name)
		if other, dup := seen[lower]; dup {
			v.add(kp, "%s and %s name the same Salesforce field (names are case-insensitive)", other, f.Name)
		}
		seen[lower] = f.Name
		if !f.IsLookup() {
			v.sfName(kp, f.Name, "a field API name")
			if strings.TrimSpace(f.Expr) == "" {
				v.add(kp, "no expression (write nil to set the field to null)")
			}
			if strings.EqualFold(f.Name, s.ExternalID) {
				hasExternalID = true
			}
			continue
		}
		if v.sfName(kp, f.Name, "a relationship name, e.g. Account or Parent__r") && strings.HasSuffix(f.Name, "__c") {
			v.add(kp, "a lookup is set through the relationship name (%s__r), not the field (%s)", strings.TrimSuffix(f.Name, "__c"), f.Name)
		}
		ip := join(kp, f.ParentExternalID)
		v.sfName(ip, f.ParentExternalID, "the parent's external ID field")
		if strings.TrimSpace(f.Expr) == "" {
			v.add(ip, "no expression for the parent's external ID")
		}
	}
	if s.ExternalID != "" && !hasExternalID {
		v.add(fp, "must map the external ID field %s (upserts match on its value)", v.show(p+".external_id", s.ExternalID))
	}
}
