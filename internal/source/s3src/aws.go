package s3src

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// defaultEndpointRegion is the signing region used with an S3-compatible
// endpoint when neither the config nor the environment names one (most
// such stores accept any region).
const defaultEndpointRegion = "us-east-1"

// clients loads the AWS configuration (static credentials or the default
// chain, region) and returns the S3 client, and the SQS client when
// sqs_queue_url is set.
func (s *Source) clients(ctx context.Context) (*s3.Client, *sqs.Client, error) {
	c := s.cfg
	var opts []func(*awsconfig.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if !c.AccessKeyID.IsZero() {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKeyID.Reveal(), c.SecretAccessKey.Reveal(), "")))
	}
	if s.maxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(s.maxAttempts))
	}
	opts = append(opts, awsconfig.WithLogger(sdkLogger{log: s.log}))
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("s3src: source %s: AWS configuration: %w", s.name, err)
	}
	if ac.Region == "" {
		if c.Endpoint == "" {
			return nil, nil, fmt.Errorf("s3src: source %s: no AWS region: set region in the source, or AWS_REGION, or a profile's region", s.name)
		}
		ac.Region = defaultEndpointRegion
	}
	// Credentials come from the default chain lazily; asking now turns
	// "none configured" into a start error instead of a failing loop.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err = ac.Credentials.Retrieve(cctx)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("s3src: source %s: no AWS credentials: set access_key_id and secret_access_key, or provide them by environment, profile or role: %w", s.name, err)
	}
	s3c := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.UsePathStyle = c.ForcePathStyle
		// Objects written without a checksum are the rule: not worth a
		// warning per GetObject.
		o.DisableLogOutputChecksumValidationSkipped = true
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			// Many S3-compatible stores reject the newer default
			// checksums; send and check them only where S3 requires them.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	if c.SQSQueueURL == "" {
		return s3c, nil, nil
	}
	endpoint, region, err := sqsEndpoint(c.SQSQueueURL)
	if err != nil {
		return nil, nil, fmt.Errorf("s3src: source %s: sqs_queue_url: %w", s.name, err)
	}
	sqsc := sqs.NewFromConfig(ac, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if region != "" {
			o.Region = region
		}
	})
	return s3c, sqsc, nil
}

// sdkLogger passes the AWS SDK's own messages (retries, deprecations) to
// the source's log instead of stderr.
type sdkLogger struct{ log *slog.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, "s3: AWS SDK: "+fmt.Sprintf(format, v...))
}

// sqsEndpoint derives where to send SQS requests from a queue URL. The SDK
// sends them to its regional endpoint, not to the queue URL's host: for an
// AWS queue URL (https://sqs.eu-west-1.amazonaws.com/123/q) the region is
// taken from the URL; for another host (ElasticMQ, LocalStack) the host
// becomes the endpoint.
func sqsEndpoint(queueURL string) (endpoint, region string, err error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", fmt.Errorf("%q is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)", queueURL)
	}
	host := u.Hostname()
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn"} {
		name, ok := strings.CutSuffix(host, suffix)
		if !ok {
			continue
		}
		// sqs.<region> or <region>.queue (legacy)
		if r, ok := strings.CutPrefix(name, "sqs."); ok && !strings.Contains(r, ".") {
			return "", r, nil
		}
		if r, ok := strings.CutSuffix(name, ".queue"); ok && !strings.Contains(r, ".") {
			return "", r, nil
		}
		return "", "", nil
	}
	return u.Scheme + "://" + u.Host, "", nil
}

// check lists the bucket once (the permission every mode needs):
// what configuration can fix is an error; anything else is logged and
// left to the runs.
func (s *Source) check(ctx context.Context, c *s3.Client) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.ListObjectsV2(cctx, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(s.cfg.Prefix), MaxKeys: aws.Int32(1),
	})
	if err == nil {
		return nil
	}
	if reason := configProblem(err); reason != "" {
		return fmt.Errorf("s3src: source %s: bucket %s: %s: %w", s.name, s.cfg.Bucket, reason, err)
	}
	s.log.Warn("s3: cannot list the bucket now; the runs retry", "err", err)
	return nil
}

// configProblem says what configuration must fix when err is one of the
// errors no retry cures; "" otherwise.
func configProblem(err error) string {
	var nb *types.NoSuchBucket
	if errors.As(err, &nb) {
		return "no such bucket (check bucket, region and endpoint)"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return "no such bucket (check bucket, region and endpoint)"
		case "AccessDenied", "AllAccessDisabled":
			return "access denied (the credentials need s3:ListBucket on the bucket)"
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return "the credentials are refused"
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return "the bucket is in another region (set region)"
		case "InvalidBucketName":
			return "not a valid bucket name"
		}
	}
	if status(err) == 403 {
		return "access denied (the credentials need s3:ListBucket on the bucket)"
	}
	return ""
}

// status is the HTTP status of err's response, 0 when there was none (the
// request did not reach the service).
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNoSuchKey reports whether err says the object does not exist.
func isNoSuchKey(err error) bool {
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return true
	}
	return false
}

// copySource is CopyObject's x-amz-copy-source for bucket/key: the key
// percent-encoded except for unreserved characters and '/', so that every
// decoder reads it back the same ('+' stays '+', not a space).
func copySource(bucket, key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.WriteString(bucket)
	b.WriteByte('/')
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// trimETag drops the quotes S3 puts around an ETag.
func trimETag(etag string) string {
	return strings.Trim(etag, `"`)
}
