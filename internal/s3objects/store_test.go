package s3objects_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rdsexport/rdsexport/internal/engine"
	"github.com/rdsexport/rdsexport/internal/exporttest"
	"github.com/rdsexport/rdsexport/internal/s3objects"
	"github.com/rdsexport/rdsexport/internal/s3server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// embedded starts the embedded S3 server on httptest for t.
func embedded(t testing.TB) string {
	t.Helper()
	srv, err := s3server.New(t.TempDir(), s3server.Params{AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(exporttest.SigV4S3(srv, map[string]exporttest.S3Key{"test": {Secret: "test", Account: "000000000000"}}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func randomBucket(t testing.TB) string {
	p := make([]byte, 6)
	_, _ = rand.Read(p)
	return "rdsexport-test-" + hex.EncodeToString(p)
}

// newStoreWithBucket returns a store on endpoint and a fresh bucket in it.
func newStoreWithBucket(t testing.TB, cfg s3objects.Params) (*s3objects.Store, string) {
	t.Helper()
	s, err := s3objects.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bucket := randomBucket(t)
	if err := s.CreateBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	return s, bucket
}

func TestStore_Embedded(t *testing.T) {
	endpoint := embedded(t)
	exporttest.ObjectStoreSuite(t, func(t *testing.T) (engine.ObjectStore, string) {
		return newStoreWithBucket(t, s3objects.Params{
			Endpoint: endpoint, AccessKeyID: "test", SecretAccessKey: "test",
			PartSize: s3objects.MinPartSize,
		})
	})
}

func TestStore_VersityGW(t *testing.T) {
	gw := exporttest.StartVersityGW(t)
	exporttest.ObjectStoreSuite(t, func(t *testing.T) (engine.ObjectStore, string) {
		return newStoreWithBucket(t, s3objects.Params{
			Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey,
			PartSize: s3objects.MinPartSize,
		})
	})
}

func TestStore_BucketExists(t *testing.T) {
	t.Run("ErrForbiddenIsFalse", func(t *testing.T) {
		gw := exporttest.StartVersityGW(t)
		s, bucket := newStoreWithBucket(t, s3objects.Params{
			Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey,
		})
		wrong, err := s3objects.New(s3objects.Params{Endpoint: gw.Endpoint, AccessKeyID: gw.AccessKeyID, SecretAccessKey: "wrong"})
		if err != nil {
			t.Fatal(err)
		}
		ok, err := wrong.BucketExists(context.Background(), bucket)
		if err != nil || ok {
			t.Fatalf("BucketExists with a bad secret = %v, %v; want false, nil", ok, err)
		}
		_ = s
	})

	t.Run("ErrUnreachable", func(t *testing.T) {
		hs := httptest.NewServer(http.NotFoundHandler())
		url := hs.URL
		hs.Close()
		s, err := s3objects.New(s3objects.Params{Endpoint: url, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.BucketExists(context.Background(), "b-unreachable"); err == nil {
			t.Fatal("BucketExists on a closed port returned no error")
		}
	})
}

func TestNew(t *testing.T) {
	for name, cfg := range map[string]s3objects.Params{
		"ErrPartSize":         {PartSize: 1 << 20},
		"ErrConcurrency":      {Concurrency: -1},
		"ErrHalfCredentials":  {AccessKeyID: "a"},
		"ErrNegativeAttempts": {MaxAttempts: -1},
		"ErrNegativeTimeout":  {ResponseTimeout: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := s3objects.New(cfg); !errors.Is(err, s3objects.ErrInvalidParams) {
				t.Fatalf("New(%+v) = %v, want ErrInvalidParams", cfg, err)
			}
		})
	}
}

// TestStore_SilentServer: a server that takes requests and never answers
// fails them after ResponseTimeout (and the retries), instead of holding
// Put until it is cancelled.
func TestStore_SilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c) // reads every request, answers none
			})
		}
	})
	s, err := s3objects.New(s3objects.Params{Endpoint: "http://" + ln.Addr().String(), MaxAttempts: 2,
		ResponseTimeout: 300 * time.Millisecond, AccessKeyID: "a", SecretAccessKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	// Without the timeout the calls would wait for this context instead.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for name, call := range map[string]func() error{
		"Put": func() error { return s.Put(ctx, "b", "k", strings.NewReader("x")) },
		"BucketExists": func() error {
			_, err := s.BucketExists(ctx, "b")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call()
			if took := time.Since(start); took > 10*time.Second || ctx.Err() != nil {
				t.Errorf("%s returned after %v (%v)", name, took, err)
			}
			if err == nil {
				t.Fatalf("%s on a silent server returned no error", name)
			}
			if name == "Put" {
				var ose *engine.ObjectStoreError
				if !errors.As(err, &ose) {
					t.Errorf("Put = %v, want an *engine.ObjectStoreError", err)
				}
			}
		})
	}
	// The client closed each connection when its timeout fired, which
	// ended the server's readers.
}

func TestStore_Get(t *testing.T) {
	s, bucket := newStoreWithBucket(t, s3objects.Params{Endpoint: embedded(t), AccessKeyID: "test", SecretAccessKey: "test"})
	if _, err := s.Get(context.Background(), bucket, "missing"); !errors.Is(err, s3objects.ErrNotFound) {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
}

func TestStore_DeletePrefix(t *testing.T) {
	s, bucket := newStoreWithBucket(t, s3objects.Params{Endpoint: embedded(t), AccessKeyID: "test", SecretAccessKey: "test"})
	ctx := context.Background()
	for _, k := range []string{"x/1", "x/2/a", "x/3", "xy", "y/1"} {
		if err := s.Put(ctx, bucket, k, strings.NewReader(k)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeletePrefix(ctx, bucket, "x/")
	if err != nil || n != 3 {
		t.Fatalf("DeletePrefix = %d, %v; want 3, nil", n, err)
	}
	keys, err := s.List(ctx, bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "xy,y/1" {
		t.Fatalf("left %q", keys)
	}
}

// TestStore_PutConcurrent checks that one Store serves parallel Puts (the
// engine writes several tables at once).
func TestStore_PutConcurrent(t *testing.T) {
	s, bucket := newStoreWithBucket(t, s3objects.Params{Endpoint: embedded(t), AccessKeyID: "test", SecretAccessKey: "test", PartSize: s3objects.MinPartSize})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + i)}, 6<<20)
			errs <- s.Put(ctx, bucket, "c/"+string(rune('a'+i)), bytes.NewReader(body))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.List(ctx, bucket, "c/")
	if err != nil || len(keys) != 4 {
		t.Fatalf("List = %q, %v", keys, err)
	}
	rc, err := s.Get(ctx, bucket, "c/c")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, bytes.Repeat([]byte{'c'}, 6<<20)) {
		t.Fatal("c/c content differs")
	}
}

func BenchmarkPut(b *testing.B) {
	s, bucket := newStoreWithBucket(b, s3objects.Params{Endpoint: embedded(b), AccessKeyID: "test", SecretAccessKey: "test"})
	body := make([]byte, 32<<20)
	_, _ = rand.Read(body)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		// A plain reader of unknown length, like the engine's pipe.
		if err := s.Put(ctx, bucket, "bench/obj", struct{ io.Reader }{bytes.NewReader(body)}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestStore_Put(t *testing.T) {
	t.Run("ErrCancelCause", func(t *testing.T) {
		s, bucket := newStoreWithBucket(t, s3objects.Params{Endpoint: embedded(t), AccessKeyID: "test", SecretAccessKey: "test"})
		errStop := errors.New("task canceled")
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errStop)
		err := s.Put(ctx, bucket, "k", strings.NewReader("x"))
		if !errors.Is(err, errStop) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want errors wrapping the cause and context.Canceled", err)
		}
	})
}
