package sfemu_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/sfemu"
)

func TestUserinfoGolden(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, sfemu.Options{})
	tok := authLogin(t, e)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := authServe(e, method, "/services/oauth2/userinfo", nil, authBearer(tok))
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		authGolden(t, "identity_userinfo.json", []byte(r.Body))
	}
	m := authGetJSON(t, e, "/services/oauth2/userinfo", tok)
	uid, username := e.Org().DefaultUser()
	require.Equal(t, uid, m["user_id"])
	require.Equal(t, e.Org().ID(), m["organization_id"])
	require.Equal(t, username, m["preferred_username"])

	// Without a valid session: the REST 401 (sfdx-core treats it as expired).
	r := authServe(e, http.MethodGet, "/services/oauth2/userinfo", nil, authBearer("00Dx!nope"))
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, authSessionInvalid, r.Body)
	r = authServe(e, http.MethodGet, "/services/oauth2/userinfo", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, `[{"message":"INVALID_HEADER_TYPE","errorCode":"INVALID_AUTH_HEADER"}]`, r.Body)
}

func TestIdentityURL(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, sfemu.Options{})
	r := authPost(e, "/services/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {sfemu.DemoClientID}, "client_secret": {sfemu.DemoClientSecret},
	})
	tok := authDecode(t, r)["access_token"].(string)
	idURL := authDecode(t, r)["id"].(string)
	path := strings.TrimPrefix(idURL, authURL)

	// The Authorization header, or jsforce's ?format=json&oauth_token=.
	r = authServe(e, http.MethodGet, path+"?format=json", nil, authBearer(tok))
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	authGolden(t, "identity_id.json", []byte(r.Body))
	r = authServe(e, http.MethodGet, path+"?format=json&oauth_token="+url.QueryEscape(tok), nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	m := authDecode(t, r)
	require.Equal(t, idURL, m["id"])
	require.Equal(t, authURL+"/services/data/v{version}/", m["urls"].(map[string]any)["rest"])

	// A 15-character org id is the same org.
	uid, _ := e.Org().DefaultUser()
	r = authServe(e, http.MethodGet, "/id/"+e.Org().ID()[:15]+"/"+uid, nil, authBearer(tok))
	require.Equal(t, http.StatusOK, r.Status, r.Body)

	tests := []struct {
		name, path string
		h          http.Header
		status     int
		body       string
	}{
		{"no token", path, nil, http.StatusForbidden, "Bad_OAuth_Token"},
		{"bad token", path, authBearer("00Dx!bad"), http.StatusForbidden, "Bad_OAuth_Token"},
		{"other org", "/id/00D000000000001AAA/" + uid, authBearer(tok), http.StatusForbidden, "Wrong_Org"},
		{"unknown user", "/id/" + e.Org().ID() + "/005000000000009AAA", authBearer(tok), http.StatusNotFound, "Bad_Id"},
	}
	for _, tt := range tests {
		r := authServe(e, http.MethodGet, tt.path, nil, tt.h)
		require.Equal(t, tt.status, r.Status, tt.name)
		require.Equal(t, tt.body, r.Body, tt.name)
		require.Equal(t, "text/plain;charset=UTF-8", r.Header.Get("Content-Type"), tt.name)
	}
}

// The resource directory's identity URL is the one the token response
// gives, and it is served.
func TestVersionRootIdentity(t *testing.T) {
	t.Parallel()
	e, _ := newAuthEmu(t, sfemu.Options{})
	tok := authLogin(t, e)
	root := authGetJSON(t, e, authV, tok)
	id := root["identity"].(string)
	r := authServe(e, http.MethodGet, strings.TrimPrefix(id, authURL), nil, authBearer(tok))
	require.Equal(t, http.StatusOK, r.Status, r.Body)
}
