package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Every default lives in this file; docs/configuration.md lists them.
const (
	defaultDataDir        = "sfbridge-data"
	defaultLoginURL       = "https://login.salesforce.com"
	sandboxLoginURL       = "https://test.salesforce.com"
	defaultAPIVersion     = "62.0"
	defaultMaxConcurrency = 10
	defaultAPIReserve     = Percent(20)
	defaultBudgetWait     = 15 * time.Minute
	defaultBulkThreshold  = 2000

	defaultPollEvery            = 30 * time.Second
	defaultPollBatchSize        = 1000
	defaultPollLag              = 5 * time.Second
	defaultPollStatementTimeout = 30 * time.Second
	defaultPollPoolSize         = 2
	defaultCDCHeartbeat         = time.Minute

	defaultFilesPattern    = "*"
	defaultFilesSettle     = 2 * time.Second
	defaultFilesRescan     = 30 * time.Second
	defaultS3Every         = 30 * time.Second
	defaultS3Processed     = "sfbridge/processed/"
	defaultS3Quarantine    = "sfbridge/quarantine/"
	defaultHTTPListen      = "127.0.0.1:8081"
	defaultMaxBodyBytes    = ByteSize(10 << 20)
	defaultMaxInFlight     = 64
	defaultPublishTimeout  = 5 * time.Second
	defaultMaxEventBytes   = ByteSize(1 << 20)
	defaultIDField         = "id"
	defaultTypeField       = "type"
	defaultTimeField       = "time"
	defaultBatchSize       = 200
	defaultLinger          = 100 * time.Millisecond
	defaultConcurrency     = 2
	defaultMaxAttempts     = 10
	defaultBackoffInitial  = 30 * time.Second
	defaultBackoffMax      = 15 * time.Minute
	defaultDLQWindowSize   = 100
	defaultDLQThreshold    = Percent(90)
	defaultMaxBacklog      = 20_000
	defaultDedupWindow     = 2 * time.Minute
	defaultGroupWindow     = time.Minute
	defaultCircuitOpenFor  = 5 * time.Minute
	defaultAlertTimeout    = 10 * time.Second
	defaultAdminListen     = "127.0.0.1:8080"
	defaultSchema          = "public"
	defaultSlotPrefix      = "sfbridge_"
	defaultFilesProcessed  = "processed"
	defaultFilesQuarantine = "quarantine"
)

// SetDefaults fills every key left out (or written as null) with its
// default. A key written with an explicit zero (batch_size: 0) is left for
// Validate to judge. Load calls it; call it yourself on a Config built in
// code (there, zero means "left out"). It is idempotent.
func (c *Config) SetDefaults() {
	def(c, "data_dir", &c.DataDir, defaultDataDir)
	if c.NATS.URL.IsZero() && !c.present("nats") {
		c.NATS.URL = Secret{value: EmbeddedNATS}
	}
	def(c, "queue.dedup_window", &c.Queue.DedupWindow, defaultDedupWindow)
	def(c, "log.level", &c.Log.Level, LogInfo)
	def(c, "log.format", &c.Log.Format, LogText)

	c.salesforceDefaults()

	d := &c.Delivery
	def(c, "delivery.batch_size", &d.BatchSize, defaultBatchSize)
	def(c, "delivery.linger", &d.Linger, defaultLinger)
	def(c, "delivery.concurrency", &d.Concurrency, defaultConcurrency)
	def(c, "delivery.max_attempts", &d.MaxAttempts, defaultMaxAttempts)
	def(c, "delivery.backoff.initial", &d.Backoff.Initial, defaultBackoffInitial)
	def(c, "delivery.backoff.max", &d.Backoff.Max, defaultBackoffMax)
	def(c, "delivery.dlq_window.size", &d.DLQWindow.Size, defaultDLQWindowSize)
	def(c, "delivery.dlq_window.threshold", &d.DLQWindow.Threshold, defaultDLQThreshold)
	def(c, "delivery.max_backlog", &d.MaxBacklog, defaultMaxBacklog)
	def(c, "delivery.version_guard", &d.VersionGuard, GuardAuto)

	for i := range c.Sources {
		c.sourceDefaults(index("sources", i), &c.Sources[i])
	}
	for i := range c.Syncs {
		p, s := index("syncs", i), &c.Syncs[i]
		def(c, p+".nulls", &s.Nulls, NullsSkip)
		def(c, p+".deletes", &s.Deletes, DeletesIgnore)
		def(c, p+".batch_size", &s.BatchSize, d.BatchSize)
		def(c, p+".concurrency", &s.Concurrency, d.Concurrency)
	}
	for i := range c.Alerts {
		p, a := index("alerts", i), &c.Alerts[i]
		name := "alert"
		if a.Type != "" {
			name = string(a.Type)
		}
		def(c, p+".name", &a.Name, fmt.Sprintf("%s_%d", name, i+1))
		if a.Events == nil && !c.present(p+".events") {
			a.Events = append([]AlertEvent(nil), AlertEvents...)
		}
		def(c, p+".group_window", &a.GroupWindow, defaultGroupWindow)
		def(c, p+".circuit_open_for", &a.CircuitOpenFor, defaultCircuitOpenFor)
		def(c, p+".timeout", &a.Timeout, defaultAlertTimeout)
	}
	def(c, "admin.listen", &c.Admin.Listen, defaultAdminListen)
}

func (c *Config) salesforceDefaults() {
	sf := &c.Salesforce
	switch sf.Auth.Flow {
	case FlowJWTBearer, FlowRefreshToken, FlowPassword:
		// client_credentials must name the org's My Domain, and
		// access_token needs no login: neither gets a default login_url.
		def(c, "salesforce.login_url", &sf.LoginURL, defaultLoginURL)
	}
	if sf.Auth.Flow == FlowJWTBearer {
		def(c, "salesforce.auth.audience", &sf.Auth.Audience, jwtAudience(sf.LoginURL))
	}
	def(c, "salesforce.api_version", &sf.APIVersion, defaultAPIVersion)
	if wholeNumber.MatchString(sf.APIVersion) {
		sf.APIVersion += ".0" // api_version: 62 means 62.0
	}
	def(c, "salesforce.max_concurrency", &sf.MaxConcurrency, defaultMaxConcurrency)
	def(c, "salesforce.api_reserve", &sf.APIReserve, defaultAPIReserve)
	def(c, "salesforce.budget_wait", &sf.BudgetWait, defaultBudgetWait)
	def(c, "salesforce.bulk_threshold", &sf.BulkThreshold, defaultBulkThreshold)
}

var wholeNumber = regexp.MustCompile(`^[0-9]+$`)

// jwtAudience is the `aud` Salesforce expects for a login host: the sandbox
// login host for sandboxes, the production one otherwise (also for My Domain).
func jwtAudience(loginURL string) string {
	u, err := url.Parse(loginURL)
	if err == nil {
		h := strings.ToLower(u.Hostname())
		if h == "test.salesforce.com" || strings.HasSuffix(h, ".sandbox.my.salesforce.com") {
			return sandboxLoginURL
		}
	}
	return defaultLoginURL
}

func (c *Config) sourceDefaults(p string, s *Source) {
	switch s.Type {
	case SourcePostgresPoll:
		pg := s.settings().(*PostgresPoll)
		if pg.Schedule == "" {
			def(c, p+".every", &pg.Every, defaultPollEvery)
		}
		def(c, p+".batch_size", &pg.BatchSize, defaultPollBatchSize)
		def(c, p+".lag", &pg.Lag, defaultPollLag)
		def(c, p+".statement_timeout", &pg.StatementTimeout, defaultPollStatementTimeout)
		def(c, p+".pool_size", &pg.PoolSize, defaultPollPoolSize)
		for j := range pg.Tables {
			tp, t := index(p+".tables", j), &pg.Tables[j]
			t.Table = qualify(t.Table)
			def(c, tp+".lag", &t.Lag, pg.Lag)
			def(c, tp+".overlap", &t.Overlap, pg.Overlap)
			def(c, tp+".batch_size", &t.BatchSize, pg.BatchSize)
		}
	case SourcePostgresCDC:
		cdc := s.settings().(*PostgresCDC)
		name := slotName(s.Name)
		def(c, p+".slot", &cdc.Slot, name)
		def(c, p+".publication", &cdc.Publication, name)
		def(c, p+".snapshot", &cdc.Snapshot, SnapshotInitial)
		def(c, p+".heartbeat", &cdc.Heartbeat, defaultCDCHeartbeat)
		for j := range cdc.Tables {
			cdc.Tables[j].Table = qualify(cdc.Tables[j].Table)
		}
	case SourceFiles:
		f := s.settings().(*Files)
		def(c, p+".pattern", &f.Pattern, defaultFilesPattern)
		def(c, p+".settle", &f.Settle, defaultFilesSettle)
		def(c, p+".rescan", &f.Rescan, defaultFilesRescan)
		def(c, p+".after", &f.After, AfterMove)
		if f.Path != "" {
			def(c, p+".processed_dir", &f.ProcessedDir, filepath.Join(f.Path, defaultFilesProcessed))
			def(c, p+".quarantine_dir", &f.QuarantineDir, filepath.Join(f.Path, defaultFilesQuarantine))
		}
		c.formatDefaults(p, &f.FileFormat)
		c.eventDefaults(p, &f.EventFields)
	case SourceS3:
		s3 := s.settings().(*S3)
		def(c, p+".every", &s3.Every, defaultS3Every)
		def(c, p+".mark", &s3.Mark, MarkState)
		def(c, p+".processed_prefix", &s3.ProcessedPrefix, defaultS3Processed)
		def(c, p+".quarantine_prefix", &s3.QuarantinePrefix, defaultS3Quarantine)
		c.formatDefaults(p, &s3.FileFormat)
		c.eventDefaults(p, &s3.EventFields)
	case SourceHTTP:
		h := s.settings().(*HTTP)
		def(c, p+".listen", &h.Listen, defaultHTTPListen)
		def(c, p+".max_body_bytes", &h.MaxBodyBytes, defaultMaxBodyBytes)
		def(c, p+".max_in_flight", &h.MaxInFlight, defaultMaxInFlight)
		def(c, p+".publish_timeout", &h.PublishTimeout, defaultPublishTimeout)
		c.eventDefaults(p, &h.EventFields)
	}
}

func (c *Config) formatDefaults(p string, f *FileFormat) {
	def(c, p+".format", &f.Format, FormatAuto)
	def(c, p+".compression", &f.Compression, CompressionAuto)
}

func (c *Config) eventDefaults(p string, e *EventFields) {
	def(c, p+".id_field", &e.IDField, defaultIDField)
	def(c, p+".type_field", &e.TypeField, defaultTypeField)
	def(c, p+".time_field", &e.TimeField, defaultTimeField)
	def(c, p+".key_field", &e.KeyField, e.IDField)
	def(c, p+".max_event_bytes", &e.MaxEventBytes, defaultMaxEventBytes)
}

// qualify gives a bare table name the default schema.
func qualify(table string) string {
	if table == "" || strings.Contains(table, ".") {
		return table
	}
	return defaultSchema + "." + table
}

// slotName derives a replication slot / publication name from a source
// name: lower case, [a-z0-9_] only.
func slotName(source string) string {
	var b strings.Builder
	b.WriteString(defaultSlotPrefix)
	for _, r := range strings.ToLower(source) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// def sets *v to value when it is zero and the key was not written in the file.
func def[T comparable](c *Config, path string, v *T, value T) {
	var zero T
	if *v == zero && !c.present(path) {
		*v = value
	}
}
