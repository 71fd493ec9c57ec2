package salesforce_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sfbridge/sfbridge/internal/failure"
	"github.com/sfbridge/sfbridge/internal/retry"
	"github.com/sfbridge/sfbridge/internal/salesforce"
	"github.com/sfbridge/sfbridge/internal/sfemu"
	"github.com/sfbridge/sfbridge/internal/sfemu/sfemutest"
)

// These tests run the client against the emulator (internal/sfemu) over
// loopback HTTP: the same wire a real org speaks.

const ctxTimeout = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctxTimeout)
	t.Cleanup(cancel)
	return ctx
}

// emuConfig logs in with the emulator's demo connected app
// (client_credentials; the emulator's URL stands for the org's My Domain).
func emuConfig(srv *sfemutest.Server) salesforce.Config {
	return salesforce.Config{
		LoginURL:   srv.URL,
		APIVersion: "62.0",
		Auth:       salesforce.Auth{Flow: salesforce.FlowClientCredentials, ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret},
		Logger:     slog.New(slog.DiscardHandler),
		BulkPoll:   retry.Policy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2},
	}
}

func emuClient(t *testing.T, srv *sfemutest.Server, mutate func(*salesforce.Config)) *salesforce.Client {
	t.Helper()
	cfg := emuConfig(srv)
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := salesforce.New(cfg)
	require.NoError(t, err)
	return c
}

func emuSink(t *testing.T, c *salesforce.Client, cfg salesforce.SinkConfig) *salesforce.Sink {
	t.Helper()
	s, err := salesforce.NewSink(c, cfg)
	require.NoError(t, err)
	return s
}

func setFaults(t *testing.T, srv *sfemutest.Server, cfg sfemu.FaultConfig) {
	t.Helper()
	require.NoError(t, srv.Faults().Set(cfg))
}

func requireAllOK(t *testing.T, res []salesforce.Result) {
	t.Helper()
	for i, r := range res {
		require.NoError(t, r.Err, "row %d", i)
	}
}

// dump returns the stored records of object by the value of field.
func dump(t *testing.T, srv *sfemutest.Server, object, field string) map[string]map[string]any {
	t.Helper()
	recs, ok := srv.Org().Dump(object, false)
	require.True(t, ok, object)
	out := map[string]map[string]any{}
	for _, r := range recs {
		out[fmt.Sprint(r[field])] = r
	}
	return out
}

func TestEmulatorAuthFlows(t *testing.T) {
	t.Parallel()
	keyPEM, err := sfemu.DemoJWTKeyPEM()
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  func(*salesforce.Config, *sfemutest.Server)
	}{
		{"client_credentials", func(*salesforce.Config, *sfemutest.Server) {}},
		{"password", func(c *salesforce.Config, _ *sfemutest.Server) {
			c.Auth = salesforce.Auth{Flow: salesforce.FlowPassword, ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret,
				Username: "admin@sfbridge.example", Password: sfemu.DemoPassword}
		}},
		{"jwt_bearer", func(c *salesforce.Config, _ *sfemutest.Server) {
			c.Auth = salesforce.Auth{Flow: salesforce.FlowJWTBearer, ClientID: sfemu.DemoClientID, Username: "admin@sfbridge.example", PrivateKeyPEM: string(keyPEM)}
		}},
		{"jwt_bearer sandbox audience", func(c *salesforce.Config, _ *sfemutest.Server) {
			c.Auth = salesforce.Auth{Flow: salesforce.FlowJWTBearer, ClientID: sfemu.DemoClientID, Username: "admin@sfbridge.example", PrivateKeyPEM: string(keyPEM),
				Audience: "https://test.salesforce.com"}
		}},
		{"access_token", func(c *salesforce.Config, srv *sfemutest.Server) {
			c.Auth = salesforce.Auth{Flow: salesforce.FlowAccessToken, AccessToken: srv.Token}
			c.InstanceURL = srv.URL
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := sfemutest.Start(t, sfemu.Options{})
			c := emuClient(t, srv, func(c *salesforce.Config) { tt.cfg(c, srv) })
			ctx := testCtx(t)
			inst, err := c.Login(ctx)
			require.NoError(t, err)
			require.Equal(t, srv.URL, inst)
			lim, err := c.Limits(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(100000), lim["DailyApiRequests"].Max)
			res, err := c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "ORG-1", "Name": "Acme"}})
			require.NoError(t, err)
			require.Equal(t, salesforce.Result{ID: res[0].ID, Created: true}, res[0])
		})
	}
}

func TestEmulatorRefreshTokenFlow(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	// An admin authorises the app once; the emulator's admin endpoint
	// stands in for that browser step and hands out a refresh token.
	resp := srv.DoWith(t, http.MethodPost, "/__emulator/token?client_id="+sfemu.DemoClientID, nil, http.Header{})
	require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	resp.JSON(t, &body)
	require.NotEmpty(t, body.RefreshToken)
	c := emuClient(t, srv, func(c *salesforce.Config) {
		c.Auth = salesforce.Auth{Flow: salesforce.FlowRefreshToken, ClientID: sfemu.DemoClientID, ClientSecret: sfemu.DemoClientSecret, RefreshToken: body.RefreshToken}
	})
	ctx := testCtx(t)
	_, err := c.Limits(ctx)
	require.NoError(t, err)
	// The session expires: the refresh token gets a new one.
	require.Positive(t, srv.Org().ExpireSessions())
	_, err = c.Limits(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), c.TokenRequests())

	// A refresh token the org does not know is fatal, and not printed.
	bad := emuClient(t, srv, func(c *salesforce.Config) {
		c.Auth = salesforce.Auth{Flow: salesforce.FlowRefreshToken, ClientID: sfemu.DemoClientID, RefreshToken: "5Aep861-not-a-real-token"}
	})
	_, err = bad.Limits(ctx)
	require.True(t, failure.IsFatal(err), "%v", err)
	require.NotContains(t, err.Error(), "5Aep861-not-a-real-token")
}

func TestEmulatorBadCredentialsAreFatal(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, func(c *salesforce.Config) { c.Auth.ClientSecret = "wrong-secret-value" })
	_, err := c.Limits(testCtx(t))
	require.Error(t, err)
	require.True(t, failure.IsFatal(err))
	var apiErr *salesforce.APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "invalid_client", apiErr.Code)
	require.NotContains(t, err.Error(), "wrong-secret-value")
}

// TestEmulatorTokenExpiryUnderConcurrency: the org's sessions expire while
// many goroutines call; exactly one token request replaces the token and
// every call succeeds.
func TestEmulatorTokenExpiryUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, func(c *salesforce.Config) { c.MaxConcurrency = salesforce.MaxLongRunning })
	ctx := testCtx(t)
	_, err := c.Login(ctx)
	require.NoError(t, err)
	require.Positive(t, srv.Org().ExpireSessions())

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": fmt.Sprintf("ORG-%d", i), "Name": "n"}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), c.TokenRequests(), "the login and exactly one refresh")
	require.Len(t, dump(t, srv, "Account", "Org_Id__c"), 40)
}

func TestEmulatorMixedRecordResults(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	_, err := c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "ORG-1", "Name": "Acme"}})
	require.NoError(t, err)
	s := emuSink(t, c, salesforce.SinkConfig{})
	res, err := s.Write(ctx, "Contact", "Counselor_Id__c", []map[string]any{
		{"Counselor_Id__c": "C-1", "LastName": "Ok", "Account": map[string]any{"Org_Id__c": "ORG-1"}},
		{"Counselor_Id__c": "C-2"}, // LastName missing
		{"Counselor_Id__c": "C-3", "LastName": "Parent", "Account": map[string]any{"Org_Id__c": "ORG-404"}},
		{"Counselor_Id__c": "C-4", "LastName": "Bad field", "Nope__c": 1},
		{"Counselor_Id__c": "C-5", "LastName": "Bad value", "Struct": struct{}{}},
		{"Counselor_Id__c": "C-6", "LastName": "Too long", "FirstName": strings.Repeat("x", 41)},
	})
	require.NoError(t, err)
	require.True(t, res[0].OK())
	require.True(t, res[0].Created)
	stored := dump(t, srv, "Contact", "Counselor_Id__c")
	require.Equal(t, res[0].ID, stored["C-1"]["Id"])
	accounts := dump(t, srv, "Account", "Org_Id__c")
	require.Equal(t, accounts["ORG-1"]["Id"], stored["C-1"]["AccountId"], "the lookup by the parent's external ID resolved")

	want := []struct {
		i     int
		code  string
		class salesforce.Class
	}{
		{1, "REQUIRED_FIELD_MISSING", salesforce.ClassPermanent},
		{2, "INVALID_FIELD", salesforce.ClassRetry}, // the parent may arrive later
		{3, "INVALID_FIELD", salesforce.ClassPermanent},
		{4, salesforce.CodeInvalidRow, salesforce.ClassPermanent},
		{5, "STRING_TOO_LONG", salesforce.ClassPermanent},
	}
	for _, w := range want {
		var re *salesforce.RecordError
		require.True(t, errors.As(res[w.i].Err, &re), "row %d: %v", w.i, res[w.i].Err)
		require.Equal(t, w.code, re.Code, "row %d: %v", w.i, re)
		require.Equal(t, w.class, salesforce.Classify(res[w.i].Err).Class, "row %d: %v", w.i, re)
	}

	// The second write updates, and says so.
	res, err = s.Write(ctx, "Contact", "Counselor_Id__c", []map[string]any{{"Counselor_Id__c": "C-1", "LastName": "Changed"}})
	require.NoError(t, err)
	require.Equal(t, salesforce.Result{ID: stored["C-1"]["Id"].(string)}, res[0])
}

func TestEmulatorLockErrors(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	// K-2 is locked on its first attempt only: the sink's serial retry
	// writes it. K-4 stays locked: its result is a retryable lock error.
	setFaults(t, srv, sfemu.FaultConfig{Records: []sfemu.RecordFault{
		{Object: "Account", Keys: []string{"K-2"}, Times: 1},
		{Object: "Account", Keys: []string{"K-4"}},
	}})
	s := emuSink(t, c, salesforce.SinkConfig{})
	rows := []map[string]any{{"Org_Id__c": "K-1", "Name": "a"}, {"Org_Id__c": "K-2", "Name": "b"}, {"Org_Id__c": "K-3", "Name": "c"}, {"Org_Id__c": "K-4", "Name": "d"}}
	res, err := s.Write(ctx, "Account", "Org_Id__c", rows)
	require.NoError(t, err)
	for _, i := range []int{0, 1, 2} {
		require.NoError(t, res[i].Err, "row %d", i)
	}
	var re *salesforce.RecordError
	require.True(t, errors.As(res[3].Err, &re))
	require.Equal(t, "UNABLE_TO_LOCK_ROW", re.Code)
	require.Equal(t, salesforce.ClassRetry, salesforce.Classify(res[3].Err).Class)
	require.False(t, failure.IsPermanent(res[3].Err))
	require.Len(t, dump(t, srv, "Account", "Org_Id__c"), 3)
}

func TestEmulatorHTML503(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	_, err := c.Login(ctx)
	require.NoError(t, err)
	setFaults(t, srv, sfemu.FaultConfig{HTTP: []sfemu.HTTPFault{{Status: 503, Body: "html", Message: "Down for maintenance", Next: 1}}})
	_, err = c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "A", "Name": "a"}})
	require.Error(t, err)
	var apiErr *salesforce.APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, 503, apiErr.HTTPStatus)
	require.Contains(t, apiErr.Message, "Down for maintenance")
	require.NotContains(t, apiErr.Message, "<")
	require.Equal(t, salesforce.ClassRetry, salesforce.Classify(err).Class)

	// The next call goes through.
	res, err := c.UpsertCollection(ctx, "Account", "Org_Id__c", []map[string]any{{"Org_Id__c": "A", "Name": "a"}})
	require.NoError(t, err)
	requireAllOK(t, res)
}

func TestEmulatorDailyLimit(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, func(c *salesforce.Config) { c.APIReserve = -1 })
	ctx := testCtx(t)
	maxCalls, used := int64(1000), int64(999)
	setFaults(t, srv, sfemu.FaultConfig{APILimit: &sfemu.APILimitFault{Max: &maxCalls, Used: &used}})
	_, err := c.Limits(ctx)
	require.NoError(t, err, "the last call of the day")
	_, err = c.Limits(ctx)
	require.Error(t, err)
	v := salesforce.Classify(err)
	require.Equal(t, salesforce.ClassThrottle, v.Class)
	require.Equal(t, salesforce.LimitDaily, v.Limit)
	require.Equal(t, salesforce.DefaultBudgetWait, v.Wait)

	before := c.Requests()
	_, err = c.Limits(ctx)
	var be *salesforce.BudgetError
	require.True(t, errors.As(err, &be), "%v", err)
	require.True(t, be.Exhausted)
	require.Equal(t, before, c.Requests(), "no call was spent")
}

func TestEmulatorAPIReserve(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil) // default reserve: 20%
	ctx := testCtx(t)
	maxCalls, used := int64(1000), int64(795)
	setFaults(t, srv, sfemu.FaultConfig{APILimit: &sfemu.APILimitFault{Max: &maxCalls, Used: &used}})
	var err error
	calls := 0
	for ; calls < 20; calls++ {
		if _, err = c.Limits(ctx); err != nil {
			break
		}
	}
	var be *salesforce.BudgetError
	require.True(t, errors.As(err, &be), "%v", err)
	require.False(t, be.Exhausted)
	u := c.Usage()
	require.Less(t, u.Remaining(), int64(200))
	require.GreaterOrEqual(t, u.Remaining(), int64(199), "stopped at the reserve, not later")
	require.Equal(t, salesforce.Usage{Used: be.Used, Max: 1000, At: u.At}, u)
	gotUsed, _ := srv.Org().APIUsage()
	require.Equal(t, u.Used, gotUsed, "the client's view matches the org's")
}

func TestEmulatorConcurrentLimit(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, func(c *salesforce.Config) { c.MaxConcurrency = 16 })
	ctx := testCtx(t)
	_, err := c.Login(ctx)
	require.NoError(t, err)
	setFaults(t, srv, sfemu.FaultConfig{
		Concurrency: &sfemu.ConcurrencyFault{Max: 2},
		Latency:     []sfemu.LatencyFault{{Fixed: sfemu.Duration(20 * time.Millisecond)}},
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var throttled int
	for range 16 {
		wg.Go(func() {
			_, err := c.Limits(ctx)
			if err != nil {
				v := salesforce.Classify(err)
				require.Equal(t, salesforce.ClassThrottle, v.Class, "%v", err)
				require.Equal(t, salesforce.LimitConcurrent, v.Limit, "%v", err)
				mu.Lock()
				throttled++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Positive(t, throttled)
	limit, inflight := c.Concurrency()
	require.Less(t, limit, 16, "the limit shrank")
	require.Zero(t, inflight)
	u := c.Usage()
	require.Positive(t, u.Max, "403 responses carry Sforce-Limit-Info too")
}

func TestEmulatorDescribeLimitsDelete(t *testing.T) {
	t.Parallel()
	srv := sfemutest.Start(t, sfemu.Options{})
	c := emuClient(t, srv, nil)
	ctx := testCtx(t)
	g, err := c.DescribeGlobal(ctx)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, o := range g.SObjects {
		names[o.Name] = true
	}
	require.True(t, names["Contact"] && names["Volunteer__c"])
	d, err := c.Describe(ctx, "contact")
	require.NoError(t, err)
	f, ok := d.Field("counselor_id__c")
	require.True(t, ok)
	require.True(t, f.ExternalID)
	rel, ok := d.Relationship("Account")
	require.True(t, ok)
	require.Equal(t, "AccountId", rel.Name)
	_, err = c.Describe(ctx, "Nope__c")
	require.Error(t, err)
	require.True(t, failure.IsFatal(err), "%v", err)

	s := emuSink(t, c, salesforce.SinkConfig{})
	res, err := s.Write(ctx, "Contact", "Counselor_Id__c", []map[string]any{
		{"Counselor_Id__c": "D-1", "LastName": "a"}, {"Counselor_Id__c": "D-2", "LastName": "b"}, {"Counselor_Id__c": "O'Neil", "LastName": "c"},
	})
	require.NoError(t, err)
	requireAllOK(t, res)
	del, err := s.Delete(ctx, "Contact", "Counselor_Id__c", []any{"d-1", "O'Neil", "never-there"})
	require.NoError(t, err)
	require.Equal(t, res[0].ID, del[0].ID, "text external IDs match case-insensitively")
	require.Equal(t, res[2].ID, del[1].ID)
	require.Equal(t, salesforce.Result{}, del[2])
	stored := dump(t, srv, "Contact", "Counselor_Id__c")
	require.Len(t, stored, 1)
	require.Contains(t, stored, "D-2")

	// Deleting again is a no-op success.
	del, err = s.Delete(ctx, "Contact", "Counselor_Id__c", []any{"D-1"})
	require.NoError(t, err)
	require.Equal(t, salesforce.Result{}, del[0])
}
