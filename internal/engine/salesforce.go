package engine

import (
	"log/slog"
	"net/http"

	"github.com/sfbridge/sfbridge/internal/config"
	"github.com/sfbridge/sfbridge/internal/salesforce"
)

// SalesforceConfig maps the config's `salesforce` section onto the client's
// Config. Secrets are revealed only into the client, which redacts them
// from every error and log line.
func SalesforceConfig(sf config.Salesforce, log *slog.Logger, httpClient *http.Client) salesforce.Config {
	a := sf.Auth
	reserve := sf.APIReserve.Fraction()
	if reserve == 0 {
		reserve = -1 // api_reserve: 0% spends the whole allowance (0 would mean the client's default)
	}
	return salesforce.Config{
		LoginURL:    sf.LoginURL,
		InstanceURL: sf.InstanceURL,
		APIVersion:  sf.APIVersion,
		Auth: salesforce.Auth{
			Flow:          salesforce.Flow(a.Flow),
			ClientID:      a.ClientID,
			ClientSecret:  a.ClientSecret.Reveal(),
			Username:      a.Username,
			Password:      a.Password.Reveal(),
			SecurityToken: a.SecurityToken.Reveal(),
			PrivateKeyPEM: a.PrivateKey.Reveal(),
			Audience:      a.Audience,
			RefreshToken:  a.RefreshToken.Reveal(),
			AccessToken:   a.AccessToken.Reveal(),
		},
		HTTPClient:     httpClient,
		Logger:         log,
		MaxConcurrency: sf.MaxConcurrency,
		APIReserve:     reserve,
		BudgetWait:     sf.BudgetWait,
	}
}
