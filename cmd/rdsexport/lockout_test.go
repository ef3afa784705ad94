package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// TestHostileLockout: clients without credentials that announce an RDS
// body and never send it, more of them than there are request slots, take
// no slot. While they hang on, a signed client's RDS and S3 calls are all
// served (none throttled, with one attempt each) with a p99 under 100 ms,
// and the silent connections are cut off once the unauthenticated body
// deadline passes.
func TestHostileLockout(t *testing.T) {
	const authTimeout = 2 * time.Second
	s, _ := startHostile(t, nil, func(m *Main) { m.authTimeout = authTimeout })
	slots := s.Config.MaxConcurrentRequests
	attackers := slots + slots/4

	// Each attacker sends whole headers, so that the server has taken the
	// request and waits for its body. Half of them also carry a signature
	// that does not verify.
	var wg sync.WaitGroup
	conns := make([]net.Conn, attackers)
	for i := range conns {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		t.Cleanup(func() { c.Close() })
		auth := ""
		if i%2 == 1 {
			auth = "Authorization: AWS4-HMAC-SHA256 Credential=" + hostileKey + "/20260101/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=" + fmt.Sprintf("%064d", i) + "\r\n"
		}
		if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n%sContent-Length: 1000\r\n\r\n", s.Addr(), hostileFormCType, auth); err != nil {
			t.Fatal(err)
		}
	}
	opened := time.Now()

	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	client := rds.New(rds.Options{
		Region: testRegion, BaseEndpoint: aws.String(s.URL()), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
	})
	hc := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	var rdsTimes, s3Times []time.Duration
	for i := 0; time.Since(opened) < authTimeout/2 || i < 100; i++ {
		start := time.Now()
		if _, err := client.DescribeExportTasks(t.Context(), &rds.DescribeExportTasksInput{}); err != nil {
			t.Fatalf("signed RDS call %d while %d connections wait: %v", i, attackers, err)
		}
		rdsTimes = append(rdsTimes, time.Since(start))

		start = time.Now()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/"+testBucket+"?list-type=2", nil)
		req.Header.Set("X-Amz-Content-Sha256", sha256Hex(nil))
		signRequest(t, req, nil, creds, "s3", time.Now())
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("signed S3 call %d while %d connections wait: %d %s", i, attackers, resp.StatusCode, body)
		}
		s3Times = append(s3Times, time.Since(start))
	}
	p99RDS, p99S3 := percentile(rdsTimes, 99), percentile(s3Times, 99)
	t.Logf("%d silent connections, %d slots: signed RDS p99 %v (n=%d), S3 p99 %v (n=%d)",
		attackers, slots, p99RDS, len(rdsTimes), p99S3, len(s3Times))
	if p99RDS >= 100*time.Millisecond || p99S3 >= 100*time.Millisecond {
		t.Errorf("p99 RDS %v, S3 %v; want < 100ms", p99RDS, p99S3)
	}

	// Every silent connection is answered or closed once the body
	// deadline passes, well before the server's 5-minute read timeout.
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(opened.Add(authTimeout + 5*time.Second))
			_, err := io.Copy(io.Discard, bufio.NewReader(c))
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("connection %d still open %v after its headers", i, time.Since(opened))
			}
		})
	}
	wg.Wait()
}

// TestHostileAddressShare: one client address holds at most three quarters
// of the request slots, so another address is still served while it holds
// its share.
func TestHostileAddressShare(t *testing.T) {
	s, _ := startHostile(t, func(c *Config) { c.MaxConcurrentRequests = 4 }, nil)
	creds := aws.Credentials{AccessKeyID: hostileKey, SecretAccessKey: hostileSecret}
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, ExpectContinueTimeout: 30 * time.Second}}
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	list := func(c *http.Client) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/"+testBucket+"?list-type=2", nil)
		req.Header.Set("X-Amz-Content-Sha256", sha256Hex(nil))
		signRequest(t, req, nil, creds, "s3", time.Now())
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	one := from("127.0.0.1")
	for i := range 3 {
		holdUpload(t, s.URL(), one, creds, fmt.Sprintf("held-%d", i))
	}
	if got := list(one); got != http.StatusServiceUnavailable {
		t.Fatalf("fourth request from the address holding 3 of 4 slots: %d, want 503 SlowDown", got)
	}
	if got := list(from("127.0.0.2")); got != http.StatusOK {
		t.Fatalf("request from another address: %d, want 200", got)
	}
}

// holdUpload starts a verified S3 upload whose body waits until the test
// ends, and returns once the server is reading it, that is once it holds a
// request slot.
func holdUpload(t *testing.T, endpoint string, c *http.Client, creds aws.Credentials, key string) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), http.MethodPut, endpoint+"/"+testBucket+"/"+key, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	continued := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(continued) },
	}))
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	t.Cleanup(func() {
		_, _ = pw.Write([]byte("x"))
		pw.Close()
		<-done
	})
	select {
	case <-continued:
	case err := <-done:
		t.Fatalf("held upload %s ended early: %v", key, err)
	}
}
