package config

import "time"

// Salesforce says which org sfbridge writes to and how it logs in
// (used from issue 4: the Salesforce client).
type Salesforce struct {
	// LoginURL is the host of the OAuth token endpoint: login.salesforce.com,
	// test.salesforce.com, or the org's My Domain (required for client_credentials).
	LoginURL string `yaml:"login_url"`
	// InstanceURL is the org's API host; only the access_token flow needs
	// it, every other flow learns it from the token response.
	InstanceURL string `yaml:"instance_url"`
	// APIVersion such as "62.0".
	APIVersion string `yaml:"api_version"`
	// Auth is the login flow and its credentials.
	Auth Auth `yaml:"auth"`
	// MaxConcurrency bounds concurrent API requests from this process.
	MaxConcurrency int `yaml:"max_concurrency"`
	// APIReserve is the share of the org's daily API allowance left to
	// others: below it sfbridge waits instead of spending.
	APIReserve Percent `yaml:"api_reserve"`
	// BudgetWait is how long sfbridge holds its calls once the allowance
	// is below the reserve (or exhausted) before one probe call checks
	// whether usage has recovered.
	BudgetWait time.Duration `yaml:"budget_wait"`
	// BulkThreshold is the batch size from which Bulk API 2.0 is used
	// instead of sObject Collections.
	BulkThreshold int `yaml:"bulk_threshold"`
}

// AuthFlow is an OAuth flow.
type AuthFlow string

// The OAuth flows sfbridge can log in with.
const (
	FlowClientCredentials AuthFlow = "client_credentials"
	FlowJWTBearer         AuthFlow = "jwt_bearer"
	FlowRefreshToken      AuthFlow = "refresh_token"
	FlowPassword          AuthFlow = "password"
	FlowAccessToken       AuthFlow = "access_token"
)

// AuthFlows lists every flow.
var AuthFlows = []AuthFlow{FlowClientCredentials, FlowJWTBearer, FlowRefreshToken, FlowPassword, FlowAccessToken}

// Auth is the login flow and its credentials. Which keys a flow needs is in
// docs/configuration.md; a key the chosen flow does not use is an error.
type Auth struct {
	Flow          AuthFlow `yaml:"flow"`
	ClientID      string   `yaml:"client_id"`
	ClientSecret  Secret   `yaml:"client_secret"`
	Username      string   `yaml:"username"`
	Password      Secret   `yaml:"password"`
	SecurityToken Secret   `yaml:"security_token"`
	// PrivateKey is a PEM RSA private key (PKCS#1 or PKCS#8), usually
	// written as ${file:/path/key.pem}.
	PrivateKey Secret `yaml:"private_key"`
	// Audience is the JWT `aud` claim (jwt_bearer).
	Audience     string `yaml:"audience"`
	RefreshToken Secret `yaml:"refresh_token"`
	AccessToken  Secret `yaml:"access_token"`
}

// authKeys says, per flow, which auth keys are required and which optional.
var authKeys = map[AuthFlow]struct{ required, optional []string }{
	FlowClientCredentials: {required: []string{"client_id", "client_secret"}},
	FlowJWTBearer:         {required: []string{"client_id", "username", "private_key"}, optional: []string{"audience"}},
	FlowRefreshToken:      {required: []string{"client_id", "refresh_token"}, optional: []string{"client_secret"}},
	FlowPassword:          {required: []string{"client_id", "client_secret", "username", "password"}, optional: []string{"security_token"}},
	FlowAccessToken:       {required: []string{"access_token"}},
}

// set reports which auth keys hold a value.
func (a Auth) set() map[string]bool {
	return map[string]bool{
		"client_id":      a.ClientID != "",
		"client_secret":  !a.ClientSecret.IsZero(),
		"username":       a.Username != "",
		"password":       !a.Password.IsZero(),
		"security_token": !a.SecurityToken.IsZero(),
		"private_key":    !a.PrivateKey.IsZero(),
		"audience":       a.Audience != "",
		"refresh_token":  !a.RefreshToken.IsZero(),
		"access_token":   !a.AccessToken.IsZero(),
	}
}
