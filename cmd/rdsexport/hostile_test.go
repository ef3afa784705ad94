package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// Secrets of the hostile tests' configuration; no log line may contain them.
const (
	hostileKey       = "AKIDHOSTILE"
	hostileSecret    = "hostile-secret-Xq9vT2pL"
	hostileDBSecret  = "hostile-db-password-7Rk3"
	hostileFormCType = "application/x-www-form-urlencoded; charset=utf-8"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startHostile runs Main like startServer, with the hostile key, a source
// URL holding a password, and the server logs captured (also sent to the
// test log). prep may adjust Main before it opens.
func startHostile(t *testing.T, mod func(*Config), prep func(*Main)) (*testServer, *syncBuffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.LogLevel = "debug"
	cfg.Credentials = []Credential{{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}}
	// Nothing listens on port 1: no case may need the source.
	cfg.Clusters = []SourceConfig{{Identifier: "pg", Engine: "aurora-postgresql",
		URL: "postgres://exporter:" + hostileDBSecret + "@127.0.0.1:1/postgres"}}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	m := &Main{Config: cfg, Logger: newLogger(cfg, io.MultiWriter(logs, testLogWriter{t})), CreateBuckets: []string{testBucket}}
	if prep != nil {
		prep(m)
	}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if l := logs.String(); strings.Contains(l, hostileSecret) || strings.Contains(l, hostileDBSecret) {
			t.Errorf("a configured secret appears in the server log")
		}
	})
	s := &testServer{Main: m, Bucket: testBucket, RDS: rdsClient(m.URL(), cfg.Credentials[0]), Objects: m.objects}
	return s, logs
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signRequest signs r with the SDK's SigV4 signer for service at time at.
func signRequest(t *testing.T, r *http.Request, body []byte, creds aws.Credentials, service string, at time.Time) {
	t.Helper()
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex(body), service, testRegion, at); err != nil {
		t.Fatal(err)
	}
}

// queryError is the Query protocol's error document.
type queryError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

// parseQueryError decodes an ErrorResponse, failing on anything else.
func parseQueryError(t *testing.T, body []byte) queryError {
	t.Helper()
	var e queryError
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not a Query ErrorResponse: %v\n%s", err, body)
	}
	return e
}

// wellFormed fails unless body is one well-formed XML document.
func wellFormed(t *testing.T, body []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("response is not well-formed XML: %v\n%s", err, body)
		}
	}
}

func TestHostileInput(t *testing.T) {
	s, _ := startHostile(t, nil, nil)
	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	client := &http.Client{Timeout: 30 * time.Second}

	start := func(extra string) string {
		return "Action=StartExportTask&Version=2014-10-31&SourceArn=" + clusterArn("pg") +
			"&S3BucketName=" + testBucket + "&IamRoleArn=" + roleArn + "&KmsKeyId=alias%2Fexport" + extra
	}
	const xmlSpecial = `<&>"'`
	manyEntries := func(n int) string {
		var b strings.Builder
		b.WriteString(start("&ExportTaskIdentifier=many"))
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "&ExportOnly.member.%d=db%d", i, i)
		}
		return b.String()
	}
	// ExportOnly entries of 60 bytes up to 300 KB: under the body limit,
	// over the ExportOnly limit.
	bigExportOnly := func() string {
		var b strings.Builder
		b.WriteString(start("&ExportTaskIdentifier=big-export-only"))
		for i := 1; i <= 5000; i++ {
			fmt.Fprintf(&b, "&ExportOnly.member.%d=d%059d", i, i)
		}
		return b.String()
	}

	type hostileCase struct {
		name        string
		method      string // POST when empty
		query       string // raw URL query
		body        string
		contentType string // form when empty; "-" for none
		header      http.Header
		// sign signs the request; nil means with the good key now, for rds.
		sign func(t *testing.T, r *http.Request, body []byte)
		// status is the exact status wanted; code the Query error code
		// (empty for a 200).
		status int
		code   string
		check  func(t *testing.T, body []byte)
	}
	signAs := func(c aws.Credentials, service string, skew time.Duration) func(*testing.T, *http.Request, []byte) {
		return func(t *testing.T, r *http.Request, body []byte) {
			signRequest(t, r, body, c, service, time.Now().Add(skew))
		}
	}
	messageHas := func(want string) func(*testing.T, []byte) {
		return func(t *testing.T, body []byte) {
			if m := parseQueryError(t, body).Error.Message; !strings.Contains(m, want) {
				t.Errorf("message %q does not contain %q", m, want)
			}
		}
	}
	cases := []hostileCase{
		{name: "Valid", body: "Action=DescribeExportTasks&Version=2014-10-31", status: 200},
		{name: "ValidGET", method: http.MethodGet, query: "Action=DescribeExportTasks&Version=2014-10-31", contentType: "-", status: 200},
		{name: "TruncatedPercent", body: "Action=DescribeExportTasks&Marker=%4", status: 404, code: "MalformedQueryString"},
		{name: "BadPercent", body: "Action=DescribeExportTasks&Marker=%zz", status: 404, code: "MalformedQueryString"},
		{name: "BadPercentInKey", body: "Action=DescribeExportTasks&Mar%g1ker=x", status: 404, code: "MalformedQueryString"},
		// The SDK signer re-encodes the query, so the bad pair is added
		// after signing; the signature does not cover what cannot be parsed.
		{name: "BadPercentInQuery", method: http.MethodGet, query: "Action=DescribeExportTasks", contentType: "-",
			sign: func(t *testing.T, r *http.Request, body []byte) {
				signRequest(t, r, body, creds, "rds", time.Now())
				r.URL.RawQuery += "&Marker=%"
			}, status: 404, code: "MalformedQueryString"},
		{name: "DuplicateParamsLastWins", body: "Action=DescribeExportTasks&MaxRecords=20&MaxRecords=abc", status: 400, code: "InvalidParameterValue"},
		{name: "DuplicateAction", body: "Action=DescribeExportTasks&Action=NoSuchAction", status: 400, code: "InvalidAction"},
		{name: "DuplicateIdentifier", body: "Action=CancelExportTask&ExportTaskIdentifier=a&ExportTaskIdentifier=b", status: 404, code: "ExportTaskNotFound"},
		{name: "MaxRecordsHuge", body: "Action=DescribeExportTasks&MaxRecords=99999999999999999999", status: 400, code: "InvalidParameterValue"},
		{name: "MaxRecordsNegative", body: "Action=DescribeExportTasks&MaxRecords=-1", status: 400, code: "InvalidParameterValue"},
		{name: "MaxRecordsNonNumeric", body: "Action=DescribeExportTasks&MaxRecords=twenty", status: 400, code: "InvalidParameterValue"},
		{name: "MaxRecordsEmpty", body: "Action=DescribeExportTasks&MaxRecords=", status: 400, code: "InvalidParameterValue"},
		{name: "IdentifierUnicode", body: start("&ExportTaskIdentifier=exp%C3%A9rt"), status: 400, code: "InvalidParameterValue"},
		{name: "IdentifierInvalidUTF8", body: start("&ExportTaskIdentifier=exp%FF%FE"), status: 400, code: "InvalidParameterValue",
			check: func(t *testing.T, body []byte) { wellFormed(t, body) }},
		{name: "IdentifierNUL", body: start("&ExportTaskIdentifier=exp%00ort"), status: 400, code: "InvalidParameterValue",
			check: func(t *testing.T, body []byte) { wellFormed(t, body) }},
		{name: "IdentifierControl", body: start("&ExportTaskIdentifier=exp%0D%0Aort%1B"), status: 400, code: "InvalidParameterValue",
			check: func(t *testing.T, body []byte) { wellFormed(t, body) }},
		{name: "Identifier5000", body: start("&ExportTaskIdentifier=" + strings.Repeat("a", 5000)), status: 400, code: "InvalidParameterValue"},
		{name: "CancelIdentifierControl", body: "Action=CancelExportTask&ExportTaskIdentifier=%07%08%1F", status: 404, code: "ExportTaskNotFound",
			check: func(t *testing.T, body []byte) { wellFormed(t, body) }},
		{name: "XMLSpecialSourceArnFilter", body: "Action=DescribeExportTasks&SourceArn=" + urlEscape(xmlSpecial), status: 200},
		{name: "XMLSpecialDescribeIdentifier", body: "Action=DescribeExportTasks&ExportTaskIdentifier=" + urlEscape(xmlSpecial), status: 200},
		{name: "XMLSpecialCancelIdentifier", body: "Action=CancelExportTask&ExportTaskIdentifier=" + urlEscape(xmlSpecial), status: 404, code: "ExportTaskNotFound",
			check: messageHas(xmlSpecial)},
		{name: "XMLSpecialStartSourceArn", body: strings.Replace(start("&ExportTaskIdentifier=xml-special"), clusterArn("pg"), urlEscape(xmlSpecial), 1),
			status: 400, code: "InvalidParameterValue", check: messageHas(xmlSpecial)},
		{name: "XMLSpecialBucket", body: strings.Replace(start("&ExportTaskIdentifier=xml-special"), "S3BucketName="+testBucket, "S3BucketName="+urlEscape(xmlSpecial), 1),
			status: 400, code: "InvalidS3BucketFault", check: messageHas(xmlSpecial)},
		{name: "XMLSpecialAction", body: "Action=" + urlEscape(xmlSpecial+"]]>"), status: 400, code: "InvalidAction",
			check: func(t *testing.T, body []byte) { parseQueryError(t, body) }},
		{name: "XMLSpecialVersion", body: "Action=DescribeExportTasks&Version=" + urlEscape(xmlSpecial), status: 400, code: "InvalidParameterValue",
			check: func(t *testing.T, body []byte) { parseQueryError(t, body) }},
		{name: "JSONBody", contentType: "application/json", body: `{"Action":"DescribeExportTasks","Version":"2014-10-31"}`, status: 400, code: "MissingAction"},
		{name: "XMLBody", contentType: "text/xml", body: `<DescribeExportTasks/>`, status: 400, code: "MissingAction"},
		{name: "NoBody", body: "", status: 400, code: "MissingAction"},
		{name: "BinaryBody", contentType: "application/octet-stream", body: "\x00\xff\x00\xfe=\x01&&&==", status: 400, code: "MissingAction"},
		// Absurd indexes decode to a one-entry list; the missing source then
		// stops the request before anything is stored.
		{name: "ListIndexHuge", body: strings.Replace(start("&ExportTaskIdentifier=huge-index&ExportOnly.member.999999999=db1"),
			clusterArn("pg"), clusterArn("missing"), 1), status: 404, code: "DBClusterNotFoundFault"},
		{name: "ListIndexOverflow", body: strings.Replace(start("&ExportTaskIdentifier=overflow&ExportOnly.member.99999999999999999999999=db1"),
			clusterArn("pg"), clusterArn("missing"), 1), status: 404, code: "DBClusterNotFoundFault"},
		{name: "ListIndexZero", body: start("&ExportTaskIdentifier=zero&ExportOnly.member.0=db1"), status: 400, code: "InvalidParameterValue"},
		{name: "ListIndexNegative", body: start("&ExportTaskIdentifier=neg&ExportOnly.member.-1=db1"), status: 400, code: "InvalidParameterValue"},
		{name: "ExportOnlyOver200KB", body: bigExportOnly(), status: 400, code: "InvalidExportOnly"},
		{name: "ListEntries100000", body: manyEntries(100000), status: 400, code: "InvalidParameterValue", check: messageHas("maximum size")},
		{name: "BodyOver1MiB", body: "Action=DescribeExportTasks&Marker=" + strings.Repeat("a", 1<<20), status: 400, code: "InvalidParameterValue", check: messageHas("maximum size")},
		{name: "Unsigned", body: "Action=DescribeExportTasks", sign: func(*testing.T, *http.Request, []byte) {}, status: 403, code: "MissingAuthenticationToken"},
		{name: "OtherService", body: "Action=DescribeExportTasks", sign: signAs(creds, "ec2", 0), status: 400, code: "IncompleteSignature"},
		{name: "UnknownKey", body: "Action=DescribeExportTasks",
			sign: signAs(aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: hostileSecret}, "rds", 0), status: 403, code: "InvalidClientTokenId"},
		{name: "WrongSecret", body: "Action=DescribeExportTasks",
			sign: signAs(aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: "not-the-secret"}, "rds", 0), status: 403, code: "SignatureDoesNotMatch"},
		{name: "SessionToken", body: "Action=DescribeExportTasks",
			sign:   signAs(aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret, SessionToken: "FwoGZXIvYXdzEXAMPLE"}, "rds", 0),
			status: 403, code: "InvalidClientTokenId"},
		{name: "ClockSkewPast16Min", body: "Action=DescribeExportTasks", sign: signAs(creds, "rds", -16*time.Minute), status: 403, code: "RequestExpired"},
		{name: "ClockSkewFuture16Min", body: "Action=DescribeExportTasks", sign: signAs(creds, "rds", 16*time.Minute), status: 403, code: "RequestExpired"},
		{name: "ClockSkew14Min", body: "Action=DescribeExportTasks", sign: signAs(creds, "rds", -14*time.Minute), status: 200},
		{name: "GarbageAuthorization", body: "Action=DescribeExportTasks", sign: func(_ *testing.T, r *http.Request, _ []byte) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=é<&>, SignedHeaders=, Signature=zz")
		}, status: 400, code: "IncompleteSignature", check: func(t *testing.T, body []byte) { parseQueryError(t, body) }},
		{name: "BodyChangedAfterSigning", body: "Action=DescribeExportTasks", sign: func(t *testing.T, r *http.Request, _ []byte) {
			signRequest(t, r, []byte("Action=CancelExportTask"), creds, "rds", time.Now())
		}, status: 403, code: "SignatureDoesNotMatch"},
		{name: "HeaderOver64KB", body: "Action=DescribeExportTasks", header: http.Header{"X-Big": {strings.Repeat("b", 100<<10)}},
			status: http.StatusRequestHeaderFieldsTooLarge},
	}

	before := s.taskIDs(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			target := s.URL() + "/"
			if c.query != "" {
				target += "?" + c.query
			}
			body := []byte(c.body)
			var rd io.Reader
			if method != http.MethodGet {
				rd = bytes.NewReader(body)
			}
			req, err := http.NewRequestWithContext(t.Context(), method, target, rd)
			if err != nil {
				t.Fatal(err)
			}
			switch c.contentType {
			case "":
				req.Header.Set("Content-Type", hostileFormCType)
			case "-":
			default:
				req.Header.Set("Content-Type", c.contentType)
			}
			for k, v := range c.header {
				req.Header[k] = v
			}
			if method == http.MethodGet {
				body = nil
			}
			if c.sign != nil {
				c.sign(t, req, body)
			} else {
				signRequest(t, req, body, creds, "rds", time.Now())
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d, never 5xx for client input\n%s", resp.StatusCode, got)
			}
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.status, got)
			}
			switch {
			case c.status == http.StatusOK:
				wellFormed(t, got)
			case c.code != "":
				e := parseQueryError(t, got)
				if e.Error.Code != c.code || e.Error.Type != "Sender" || e.Error.Message == "" || e.RequestID == "" {
					t.Fatalf("error %+v, want code %s, type Sender, a message and a request id", e, c.code)
				}
				if h := resp.Header.Get("x-amzn-RequestId"); h != e.RequestID {
					t.Errorf("x-amzn-RequestId %q, body RequestId %q", h, e.RequestID)
				}
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
	if after := s.taskIDs(t); !equalStrings(before, after) {
		t.Fatalf("stored tasks changed: %v → %v", before, after)
	}
}

// TestHostileTruncatedBody sends a body shorter than its Content-Length and
// half-closes the connection: the answer is a 4xx, never a 5xx.
func TestHostileTruncatedBody(t *testing.T) {
	s, _ := startHostile(t, nil, nil)
	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	full := []byte(fmt.Sprintf("Action=StartExportTask&ExportTaskIdentifier=trunc&SourceArn=%s&S3BucketName=%s&IamRoleArn=%s&KmsKeyId=k",
		clusterArn("pg"), testBucket, roleArn))
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", hostileFormCType)
	signRequest(t, req, full, creds, "rds", time.Now())

	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// Write the request with its full Content-Length, then only half the
	// body, then end the stream.
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.Host, len(full))
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	head.Write(full[:len(full)/2])
	if _, err := conn.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("status %d, want 4xx\n%s", resp.StatusCode, got)
	}
	parseQueryError(t, got)
	if ids := s.taskIDs(t); len(ids) != 0 {
		t.Fatalf("tasks %v after a truncated request", ids)
	}
}

// TestHostileSlowHeaders dribbles a request's headers one byte at a time:
// the server cuts the connection off after ReadHeaderTimeout.
func TestHostileSlowHeaders(t *testing.T) {
	s, _ := startHostile(t, nil, func(m *Main) { m.readHeaderTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	if err := conn.SetDeadline(begin.Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() {
		// Reading returns once the server closes the connection.
		_, err := io.Copy(io.Discard, conn)
		closed <- err
	}()
	dribble := "POST / HTTP/1.1\r\nHost: " + s.Addr() + "\r\nX-Slow: " + strings.Repeat("z", 1000)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case err := <-closed:
			// A reset is a close too: the server closes with unread bytes
			// of ours still in its buffer.
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("connection ended with %v, want the server to close it", err)
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Fatalf("slow headers were cut off after %s", d)
			}
			return
		case <-tick.C:
			if i >= len(dribble) {
				t.Fatal("the whole dribble was accepted")
			}
			// A write may fail once the server has closed; the reader
			// reports that.
			_, _ = conn.Write([]byte{dribble[i]})
		}
	}
}

// TestHostileSessionTokensAllowed: with allow_session_tokens a request
// signed with a session token is served.
func TestHostileSessionTokensAllowed(t *testing.T) {
	s, _ := startHostile(t, func(c *Config) { c.AllowSessionTokens = true }, nil)
	c := rds.New(rds.Options{
		Region: testRegion, BaseEndpoint: aws.String(s.URL()),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret, SessionToken: "FwoGZXIvYXdzEXAMPLE"}, nil
		}),
	})
	if _, err := c.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); err != nil {
		t.Fatal(err)
	}
}

// taskIDs lists the identifiers of the stored export tasks.
func (s *testServer) taskIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	p := rds.NewDescribeExportTasksPaginator(s.RDS, &rds.DescribeExportTasksInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range out.ExportTasks {
			ids = append(ids, aws.ToString(task.ExportTaskIdentifier))
		}
	}
	return ids
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// urlEscape form-encodes s.
func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// TestThrottling holds the only request slot with a verified S3 upload
// whose body is still to come, and checks that further RDS and S3 requests
// are refused with each protocol's throttling error until the slot is free.
func TestThrottling(t *testing.T) {
	s, _ := startHostile(t, func(c *Config) { c.MaxConcurrentRequests = 1 }, nil)
	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{ExpectContinueTimeout: 30 * time.Second},
	}
	t.Cleanup(client.CloseIdleConnections)

	// The held request asks for 100-continue: the server sends it when the
	// S3 handler first reads the body, that is once it holds the slot.
	body := []byte("Action=DescribeExportTasks&Version=2014-10-31")
	object := []byte("held upload")
	pr, pw := io.Pipe()
	held, err := http.NewRequestWithContext(t.Context(), http.MethodPut, s.URL()+"/"+testBucket+"/held", pr)
	if err != nil {
		t.Fatal(err)
	}
	held.ContentLength = int64(len(object))
	held.Header.Set("Expect", "100-continue")
	held.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, held, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	continued := make(chan struct{})
	held = held.WithContext(httptrace.WithClientTrace(held.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(continued) },
	}))
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Do(held)
		done <- result{resp, err}
	}()
	select {
	case <-continued:
	case r := <-done:
		t.Fatalf("held request ended early: %v", r.err)
	}

	do := func(req *http.Request) (int, []byte) {
		t.Helper()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	rdsRequest := func() *http.Request {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", hostileFormCType)
		signRequest(t, req, body, creds, "rds", time.Now())
		return req
	}
	status, got := do(rdsRequest())
	if e := parseQueryError(t, got); status != http.StatusBadRequest || e.Error.Code != "Throttling" ||
		e.Error.Type != "Sender" || e.Error.Message != "Rate exceeded" {
		t.Fatalf("RDS past the cap: %d %+v, want 400 Throttling (Sender) Rate exceeded", status, e)
	}

	s3req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/"+testBucket+"?list-type=2", nil)
	s3req.Header.Set("X-Amz-Content-Sha256", sha256Hex(nil))
	signRequest(t, s3req, nil, creds, "s3", time.Now())
	status, got = do(s3req)
	var s3err struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
	}
	if err := xml.Unmarshal(got, &s3err); err != nil || status != http.StatusServiceUnavailable || s3err.Code != "SlowDown" {
		t.Fatalf("S3 past the cap: %d %s (%v), want 503 SlowDown", status, got, err)
	}

	// The SDK retries Throttling; with one attempt it reports the code.
	one := rds.New(rds.Options{
		Region: testRegion, BaseEndpoint: aws.String(s.URL()), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
	})
	if _, err := one.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); apiCode(err) != "Throttling" {
		t.Fatalf("SDK past the cap: %v, want Throttling", err)
	}

	// Let the held request finish: it is served, and the slot is free again.
	if _, err := pw.Write(object); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := io.ReadAll(r.resp.Body)
	r.resp.Body.Close()
	if r.resp.StatusCode != http.StatusOK {
		t.Fatalf("held request: %d %s", r.resp.StatusCode, b)
	}
	if status, got := do(rdsRequest()); status != http.StatusOK {
		t.Fatalf("after the slot is free: %d %s", status, got)
	}
}

// TestHostileSecretsNotLogged runs an export whose source refuses the
// connection, so that the failure is logged with the source in context;
// startHostile's cleanup checks that the log holds no secret.
func TestHostileSecretsNotLogged(t *testing.T) {
	s, logs := startHostile(t, nil, nil)
	s.startExport(t, "unreachable")
	task := s.waitStatus(t, "unreachable", 30*time.Second, "FAILED")
	if cause := aws.ToString(task.FailureCause); strings.Contains(cause, hostileDBSecret) {
		t.Fatalf("failure cause shows the password: %q", cause)
	}
	if !strings.Contains(logs.String(), "unreachable") {
		t.Fatal("the export left no log line")
	}
}
