package sfemu

import (
	"net/http"
	"strings"
)

// Identity (fact sheet §1.5): /services/oauth2/userinfo and the identity
// URL /id/{orgId}/{userId}, plus the user lookups the OAuth grants need.

// userRecord returns the live User record with Id id, or nil.
func (a *authServer) userRecord(id string) map[string]any {
	id18, ok := NormalizeID(id)
	if !ok {
		return nil
	}
	users, _ := a.org.Dump("User", false)
	for _, u := range users {
		if u["Id"] == id18 {
			return u
		}
	}
	return nil
}

func (a *authServer) userExists(id string) bool { return a.userRecord(id) != nil }

// userID returns the Id of the user named username: the org's default user,
// an existing User record, or a User record created now for a configured
// user (it is gone after an org reset and comes back at the next login).
func (a *authServer) userID(username string) (string, bool) {
	defID, defName := a.org.DefaultUser()
	if strings.EqualFold(username, defName) {
		return defID, true
	}
	users, _ := a.org.Dump("User", false)
	for _, u := range users {
		if n, _ := u["Username"].(string); strings.EqualFold(n, username) {
			id, _ := u["Id"].(string)
			return id, true
		}
	}
	if _, configured := a.users[strings.ToLower(username)]; !configured {
		return "", false
	}
	local, _, _ := strings.Cut(username, "@")
	alias := strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, local)
	if len(alias) > 8 {
		alias = alias[:8]
	}
	if alias == "" {
		alias = "user"
	}
	res := a.org.Apply(&DML{Op: OpInsert, Object: "User", Rows: []Row{{Fields: map[string]any{
		"Username": username, "LastName": local, "Email": username, "Alias": alias,
	}}}})
	if len(res) != 1 || !res[0].Success {
		a.e.log.Error("emulator could not create the User record of a configured user", "username", username, "errors", res)
		return "", false
	}
	return res[0].ID, true
}

func mapStr(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// identityURLs is the "urls" member of userinfo and the identity service;
// {version} is literal, as Salesforce returns it.
func (a *authServer) identityURLs(base, userID string) orderedMap {
	org15 := a.org.ID()[:15]
	d := base + "/services/data/v{version}/"
	return orderedMap{
		{"enterprise", base + "/services/Soap/c/{version}/" + org15},
		{"metadata", base + "/services/Soap/m/{version}/" + org15},
		{"partner", base + "/services/Soap/u/{version}/" + org15},
		{"rest", d},
		{"sobjects", d + "sobjects/"},
		{"search", d + "search/"},
		{"query", d + "query/"},
		{"recent", d + "recent/"},
		{"tooling_soap", base + "/services/Soap/T/{version}/" + org15},
		{"tooling_rest", d + "tooling/"},
		{"profile", base + "/" + userID},
		{"feeds", d + "chatter/feeds"},
		{"groups", d + "chatter/groups"},
		{"users", d + "chatter/users"},
		{"feed_items", d + "chatter/feed-items"},
		{"feed_elements", d + "chatter/feed-elements"},
		{"custom_domain", base},
	}
}

func photos(base string) orderedMap {
	return orderedMap{
		{"picture", base + "/profilephoto/005/F"},
		{"thumbnail", base + "/profilephoto/005/T"},
	}
}

// userinfo answers /services/oauth2/userinfo with the OpenID Connect claims
// sfdx-core reads (user_id, organization_id) and the rest of Salesforce's
// shape.
func (a *authServer) userinfo(c *Call) {
	u := a.userRecord(c.Session.UserID)
	if u == nil {
		c.Error(http.StatusUnauthorized, CodeInvalidSessionID, msgSessionInvalid)
		return
	}
	base, id := c.BaseURL(), mapStr(u, "Id")
	c.JSON(http.StatusOK, orderedMap{
		{"sub", base + "/id/" + a.org.ID() + "/" + id},
		{"user_id", id},
		{"organization_id", a.org.ID()},
		{"preferred_username", mapStr(u, "Username")},
		{"nickname", mapStr(u, "Alias")},
		{"name", mapStr(u, "Name")},
		{"email", mapStr(u, "Email")},
		{"email_verified", true},
		{"given_name", mapStr(u, "FirstName")},
		{"family_name", mapStr(u, "LastName")},
		{"zoneinfo", mapStr(u, "TimeZoneSidKey")},
		{"photos", photos(base)},
		{"profile", base + "/" + id},
		{"picture", base + "/profilephoto/005/F"},
		{"address", orderedMap{}},
		{"is_salesforce_integration_user", false},
		{"urls", a.identityURLs(base, id)},
		{"active", u["IsActive"] != false},
		{"user_type", "STANDARD"},
		{"language", "en_US"},
		{"locale", "en_US"},
		{"utcOffset", 0},
		{"updated_at", mapStr(u, "LastModifiedDate")},
		{"is_app_installed", true},
	})
}

// identity answers the identity URL GET /id/{orgId}/{userId}[?format=json]
// with the token in the Authorization header or in oauth_token (jsforce's
// conn.identity()). The identity service answers in plain text when it
// refuses: 403 Bad_OAuth_Token, 403 Wrong_Org, 404 Bad_Id (unverified
// texts, docs/emulator.md). Only JSON is served, whatever format asks.
func (a *authServer) identity(c *Call) {
	token := c.Req.URL.Query().Get("oauth_token")
	if scheme, t, ok := strings.Cut(strings.TrimSpace(c.Req.Header.Get("Authorization")), " "); ok &&
		(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "OAuth")) {
		token = strings.TrimSpace(t)
	}
	if _, ok := a.org.Session(token); token == "" || !ok {
		c.Body(http.StatusForbidden, "text/plain;charset=UTF-8", []byte("Bad_OAuth_Token"))
		return
	}
	if org, ok := NormalizeID(c.Req.PathValue("org")); !ok || org != a.org.ID() {
		c.Body(http.StatusForbidden, "text/plain;charset=UTF-8", []byte("Wrong_Org"))
		return
	}
	u := a.userRecord(c.Req.PathValue("user"))
	if u == nil {
		c.Body(http.StatusNotFound, "text/plain;charset=UTF-8", []byte("Bad_Id"))
		return
	}
	base, id := c.BaseURL(), mapStr(u, "Id")
	c.JSON(http.StatusOK, orderedMap{
		{"id", base + "/id/" + a.org.ID() + "/" + id},
		{"asserted_user", true},
		{"user_id", id},
		{"organization_id", a.org.ID()},
		{"username", mapStr(u, "Username")},
		{"nick_name", mapStr(u, "Alias")},
		{"display_name", mapStr(u, "Name")},
		{"email", mapStr(u, "Email")},
		{"email_verified", true},
		{"first_name", mapStr(u, "FirstName")},
		{"last_name", mapStr(u, "LastName")},
		{"timezone", mapStr(u, "TimeZoneSidKey")},
		{"photos", photos(base)},
		{"addr_street", nil},
		{"addr_city", nil},
		{"addr_state", nil},
		{"addr_country", nil},
		{"addr_zip", nil},
		{"mobile_phone", nil},
		{"mobile_phone_verified", false},
		{"is_lightning_login_user", false},
		{"status", orderedMap{{"created_date", nil}, {"body", nil}}},
		{"urls", a.identityURLs(base, id)},
		{"active", u["IsActive"] != false},
		{"user_type", "STANDARD"},
		{"language", "en_US"},
		{"locale", "en_US"},
		{"utcOffset", 0},
		{"last_modified_date", mapStr(u, "LastModifiedDate")},
		{"is_app_installed", true},
	})
}
