package exporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
)

// ObjectInspector is what ObjectStoreSuite needs beyond engine.ObjectStore
// to check what Put left behind. s3objects.Store implements it.
type ObjectInspector interface {
	// Get opens bucket/key; the caller closes it.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, error)
	// ListMultipartUploads lists the multipart uploads in progress.
	ListMultipartUploads(ctx context.Context, bucket string) ([]string, error)
}

// SuitePartSize is the largest part size ObjectStoreSuite expects a store
// to use: its "multipart" bodies span more than two parts of this size.
const SuitePartSize = 8 << 20

// SuiteAccount is the account ObjectStoreSuite asks BucketAccess about: a
// store that knows bucket owners must give the suite buckets it owns.
const SuiteAccount = suiteAccount

// ObjectStoreSuite runs the engine.ObjectStore contract against the store
// returned by newStore, which is called once per subtest and returns a
// store plus an existing, empty bucket writable by SuiteAccount. The store
// must also implement ObjectInspector.
func ObjectStoreSuite(t *testing.T, newStore func(t *testing.T) (engine.ObjectStore, string)) {
	setup := func(t *testing.T) (engine.ObjectStore, ObjectInspector, string) {
		t.Helper()
		s, bucket := newStore(t)
		in, ok := s.(ObjectInspector)
		if !ok {
			t.Fatalf("%T does not implement exporttest.ObjectInspector", s)
		}
		return s, in, bucket
	}

	t.Run("Put", func(t *testing.T) {
		t.Run("Small", func(t *testing.T) {
			s, in, bucket := setup(t)
			ctx := context.Background()
			body := []byte("hello, parquet")
			if err := s.Put(ctx, bucket, "small/a.txt", bytes.NewReader(body)); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "small/", "small/a.txt")
			assertContent(t, in, bucket, "small/a.txt", sha256.Sum256(body), int64(len(body)))
		})

		t.Run("Empty", func(t *testing.T) {
			s, in, bucket := setup(t)
			if err := s.Put(context.Background(), bucket, "b1/_SUCCESS", bytes.NewReader(nil)); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "b1/", "b1/_SUCCESS")
			assertContent(t, in, bucket, "b1/_SUCCESS", sha256.Sum256(nil), 0)
		})

		t.Run("Multipart", func(t *testing.T) {
			s, in, bucket := setup(t)
			// More than two parts, last one short; a plain io.Reader (not
			// a Seeker) like the Parquet pipe the engine hands over.
			const size = 3*SuitePartSize + 12345
			sum, r := patternReader(size, 1)
			if err := s.Put(context.Background(), bucket, "big/part-00000.gz.parquet", r); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "big/", "big/part-00000.gz.parquet")
			assertContent(t, in, bucket, "big/part-00000.gz.parquet", sum, size)
			assertNoUploads(t, in, bucket)
		})

		t.Run("Overwrite", func(t *testing.T) {
			s, in, bucket := setup(t)
			ctx := context.Background()
			for _, body := range []string{"first version", "second"} {
				if err := s.Put(ctx, bucket, "ow/k", bytes.NewReader([]byte(body))); err != nil {
					t.Fatal(err)
				}
			}
			assertKeys(t, s, bucket, "ow/", "ow/k")
			assertContent(t, in, bucket, "ow/k", sha256.Sum256([]byte("second")), 6)
		})

		t.Run("ErrReaderFirstPart", func(t *testing.T) {
			s, in, bucket := setup(t)
			errBoom := errors.New("boom")
			_, r := patternReader(1<<20, 2)
			err := s.Put(context.Background(), bucket, "fail1/x", &failingReader{r: r, failAfter: 100 << 10, err: errBoom})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Put = %v, want error wrapping %v", err, errBoom)
			}
			assertKeys(t, s, bucket, "fail1/")
			assertNoUploads(t, in, bucket)
		})

		t.Run("ErrReaderMidway", func(t *testing.T) {
			s, in, bucket := setup(t)
			errBoom := errors.New("boom")
			_, r := patternReader(4*SuitePartSize, 3)
			err := s.Put(context.Background(), bucket, "fail2/x", &failingReader{r: r, failAfter: 2*SuitePartSize + 1000, err: errBoom})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Put = %v, want error wrapping %v", err, errBoom)
			}
			assertKeys(t, s, bucket, "fail2/")
			assertNoUploads(t, in, bucket)
		})

		t.Run("ErrContextCanceledMidway", func(t *testing.T) {
			s, in, bucket := setup(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// An endless source that cancels the context once two parts
			// have been read: the upload is under way by then.
			_, r := patternReader(1<<40, 4)
			cr := &failingReader{r: r, failAfter: 2*SuitePartSize + 1000, onFail: cancel}
			start := time.Now()
			err := s.Put(ctx, bucket, "cancel/x", cr)
			elapsed := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put = %v, want error wrapping context.Canceled", err)
			}
			if elapsed > 20*time.Second {
				t.Fatalf("Put returned %v after the cancel", elapsed)
			}
			assertKeys(t, s, bucket, "cancel/")
			assertNoUploads(t, in, bucket)
			// Part uploads cut off by the cancel may still finish on the
			// server and bring the upload back after the abort: look again
			// once they have had time to.
			time.Sleep(500 * time.Millisecond)
			assertNoUploads(t, in, bucket)
		})

		t.Run("ErrContextCanceledBefore", func(t *testing.T) {
			s, in, bucket := setup(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := s.Put(ctx, bucket, "cancel0/x", bytes.NewReader([]byte("x")))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Put = %v, want error wrapping context.Canceled", err)
			}
			assertKeys(t, s, bucket, "cancel0/")
			assertNoUploads(t, in, bucket)
		})
	})

	t.Run("PutChecked", func(t *testing.T) {
		checked := func(t *testing.T) (engine.CheckedPutter, engine.ObjectStore, ObjectInspector, string) {
			s, in, bucket := setup(t)
			cp, ok := s.(engine.CheckedPutter)
			if !ok {
				t.Skipf("%T does not implement engine.CheckedPutter", s)
			}
			return cp, s, in, bucket
		}
		t.Run("Small", func(t *testing.T) {
			cp, s, in, bucket := checked(t)
			body := []byte("hello, fenced parquet")
			checks := 0
			if err := cp.PutChecked(context.Background(), bucket, "c/a", bytes.NewReader(body), func(context.Context) error {
				checks++
				// The body is uploaded and the object not made yet.
				assertKeys(t, s, bucket, "c/")
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if checks != 1 {
				t.Errorf("check ran %d times, want 1", checks)
			}
			assertKeys(t, s, bucket, "c/", "c/a")
			assertContent(t, in, bucket, "c/a", sha256.Sum256(body), int64(len(body)))
			assertNoUploads(t, in, bucket)
		})
		t.Run("Empty", func(t *testing.T) {
			cp, s, in, bucket := checked(t)
			if err := cp.PutChecked(context.Background(), bucket, "c/e", bytes.NewReader(nil), func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "c/", "c/e")
			assertContent(t, in, bucket, "c/e", sha256.Sum256(nil), 0)
		})
		t.Run("Multipart", func(t *testing.T) {
			cp, s, in, bucket := checked(t)
			const size = 2*SuitePartSize + 777
			sum, r := patternReader(size, 5)
			if err := cp.PutChecked(context.Background(), bucket, "c/big", r, func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "c/", "c/big")
			assertContent(t, in, bucket, "c/big", sum, size)
			assertNoUploads(t, in, bucket)
		})
		t.Run("ErrCheck", func(t *testing.T) {
			cp, s, in, bucket := checked(t)
			errFenced := errors.New("fenced")
			err := cp.PutChecked(context.Background(), bucket, "c/x", bytes.NewReader([]byte("late")), func(context.Context) error { return errFenced })
			if !errors.Is(err, errFenced) {
				t.Fatalf("PutChecked = %v, want the check's error", err)
			}
			assertKeys(t, s, bucket, "c/")
			assertNoUploads(t, in, bucket)
		})
		t.Run("ErrAbortedBeforeComplete", func(t *testing.T) {
			// What a run that takes the work over does while an upload
			// of the earlier run is held up: it aborts the open uploads.
			// The held-up completion then fails and makes nothing.
			cp, s, in, bucket := checked(t)
			a, ok := s.(engine.UploadAborter)
			if !ok {
				t.Skipf("%T does not implement engine.UploadAborter", s)
			}
			err := cp.PutChecked(context.Background(), bucket, "c/held", bytes.NewReader([]byte("held up")), func(ctx context.Context) error {
				n, err := a.AbortUploads(ctx, bucket, "c/")
				if err == nil && n != 1 {
					err = fmt.Errorf("aborted %d uploads, want 1", n)
				}
				return err
			})
			if err == nil {
				t.Fatal("PutChecked completed an aborted upload")
			}
			assertKeys(t, s, bucket, "c/")
			assertNoUploads(t, in, bucket)
		})
	})

	t.Run("List", func(t *testing.T) {
		t.Run("OrderAndPrefix", func(t *testing.T) {
			s, _, bucket := setup(t)
			ctx := context.Background()
			// Put out of order; no key is both an object and a "folder",
			// which posix-backed servers cannot store.
			keys := []string{
				"exp/db/db.t2/1/part-00000-b-c000.gz.parquet",
				"exp/db/db.t1/2/_SUCCESS",
				"exp/db/db.t1/1/part-00001-a-c000.gz.parquet",
				"exp/db/db.t1/1/part-00000-a-c000.gz.parquet",
				"exp/export_info_exp.json",
				"exp-other/x",
				"exo",
				"chars/x=1+y,z.parquet",
			}
			for _, k := range keys {
				if err := s.Put(ctx, bucket, k, bytes.NewReader([]byte(k))); err != nil {
					t.Fatal(err)
				}
			}
			assertKeys(t, s, bucket, "exp/",
				"exp/db/db.t1/1/part-00000-a-c000.gz.parquet",
				"exp/db/db.t1/1/part-00001-a-c000.gz.parquet",
				"exp/db/db.t1/2/_SUCCESS",
				"exp/db/db.t2/1/part-00000-b-c000.gz.parquet",
				"exp/export_info_exp.json",
			)
			assertKeys(t, s, bucket, "exp/db/db.t1/1/",
				"exp/db/db.t1/1/part-00000-a-c000.gz.parquet",
				"exp/db/db.t1/1/part-00001-a-c000.gz.parquet",
			)
			// Byte order: '-' sorts before '/'.
			assertKeys(t, s, bucket, "exp", slices.Sorted(slices.Values(append(keys[:5:5], "exp-other/x")))...)
			assertKeys(t, s, bucket, "chars/", "chars/x=1+y,z.parquet")
			assertKeys(t, s, bucket, "nothing/")
			all := slices.Clone(keys)
			slices.Sort(all)
			assertKeys(t, s, bucket, "", all...)
		})

		t.Run("ErrNoSuchBucket", func(t *testing.T) {
			s, _, _ := setup(t)
			if _, err := s.List(context.Background(), "rdsexport-no-such-bucket", ""); err == nil {
				t.Fatal("List on a missing bucket returned no error")
			}
		})
	})

	t.Run("Delete", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, _, bucket := setup(t)
			ctx := context.Background()
			for _, k := range []string{"del/a.json", "del/a.json.bak", "del/b"} {
				if err := s.Put(ctx, bucket, k, bytes.NewReader([]byte(k))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Delete(ctx, bucket, "del/a.json"); err != nil {
				t.Fatal(err)
			}
			assertKeys(t, s, bucket, "del/", "del/a.json.bak", "del/b")
		})
		t.Run("Missing", func(t *testing.T) {
			s, _, bucket := setup(t)
			if err := s.Delete(context.Background(), bucket, "del/never-written"); err != nil {
				t.Fatalf("Delete of a missing key: %v, want nil", err)
			}
		})
		t.Run("ErrNoSuchBucket", func(t *testing.T) {
			s, _, _ := setup(t)
			err := s.Delete(context.Background(), "rdsexport-no-such-bucket", "k")
			var oe *engine.ObjectStoreError
			if !errors.As(err, &oe) || oe.Code != "NoSuchBucket" {
				t.Fatalf("Delete in a missing bucket: %v, want an ObjectStoreError with code NoSuchBucket", err)
			}
		})
	})

	t.Run("BucketAccess", func(t *testing.T) {
		t.Run("OK", func(t *testing.T) {
			s, _, bucket := setup(t)
			exists, writable, err := s.BucketAccess(context.Background(), SuiteAccount, bucket)
			if err != nil || !exists || !writable {
				t.Fatalf("BucketAccess(%q) = %v, %v, %v; want true, true, nil", bucket, exists, writable, err)
			}
		})
		t.Run("Missing", func(t *testing.T) {
			s, _, _ := setup(t)
			exists, writable, err := s.BucketAccess(context.Background(), SuiteAccount, "rdsexport-no-such-bucket")
			if err != nil || exists || writable {
				t.Fatalf("BucketAccess(missing) = %v, %v, %v; want false, false, nil", exists, writable, err)
			}
		})
	})
}

func assertKeys(t *testing.T, s engine.ObjectStore, bucket, prefix string, want ...string) {
	t.Helper()
	got, err := s.List(context.Background(), bucket, prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("List(%q) =\n%q\nwant\n%q", prefix, got, want)
	}
}

func assertContent(t *testing.T, in ObjectInspector, bucket, key string, want [32]byte, size int64) {
	t.Helper()
	rc, err := in.Get(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if n != size || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("content of %q: %d bytes, sha256 %x; want %d bytes, %x", key, n, h.Sum(nil), size, want)
	}
}

func assertNoUploads(t *testing.T, in ObjectInspector, bucket string) {
	t.Helper()
	ups, err := in.ListMultipartUploads(context.Background(), bucket)
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(ups) != 0 {
		t.Fatalf("multipart uploads left behind: %q", ups)
	}
}

// patternReader returns size bytes of seeded pseudo-random data as a plain
// io.Reader (no Seek, no Len) and their SHA-256. For sizes over 64 MiB the
// sum is not computed (endless sources).
func patternReader(size int64, seed uint64) ([32]byte, io.Reader) {
	var sum [32]byte
	if size <= 64<<20 {
		h := sha256.New()
		if _, err := io.Copy(h, io.LimitReader(&prng{r: rand.New(rand.NewPCG(seed, seed))}, size)); err != nil {
			panic(fmt.Sprint("hash pattern: ", err))
		}
		copy(sum[:], h.Sum(nil))
	}
	return sum, io.LimitReader(&prng{r: rand.New(rand.NewPCG(seed, seed))}, size)
}

type prng struct{ r *rand.Rand }

func (p *prng) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.r.Uint32())
	}
	return len(b), nil
}

// failingReader reads from r until failAfter bytes, then calls onFail (if
// set) and returns err, or keeps reading when err is nil.
type failingReader struct {
	r         io.Reader
	n         int64
	failAfter int64
	err       error
	onFail    func()
	fired     bool
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.failAfter {
		if !f.fired && f.onFail != nil {
			f.onFail()
		}
		f.fired = true
		if f.err != nil {
			return 0, f.err
		}
	}
	if rest := f.failAfter - f.n; rest > 0 && int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := f.r.Read(p)
	f.n += int64(n)
	return n, err
}
