package exporttest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// VersityGW is a running versitygw process: a third-party S3 server on
// loopback with a posix backend in a temporary directory.
type VersityGW struct {
	// Endpoint is the base URL, http://127.0.0.1:<port>.
	Endpoint string
	// AccessKeyID and SecretAccessKey are the root credentials.
	AccessKeyID     string
	SecretAccessKey string
	// Dir is the posix backend's root: one directory per bucket.
	Dir string

	t       testing.TB
	bin     string
	addr    string
	sidecar string

	mu   sync.Mutex
	out  *syncBuffer // output of the current process
	stop func(bool)  // stops the current process (true: SIGKILL); nil when none runs
	proc *os.Process // the current process; nil when none runs
}

// VersityGWBinary returns the path of the versitygw binary: $VERSITYGW_BIN,
// else .bin/versitygw at the module root (where scripts/versitygw.sh
// installs it), else versitygw on PATH. It returns "" when none exists.
func VersityGWBinary() string {
	if p := os.Getenv("VERSITYGW_BIN"); p != "" {
		return p
	}
	if root := moduleRoot(); root != "" {
		p := filepath.Join(root, ".bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// moduleRoot walks up from the working directory (the package directory
// under go test) to the directory holding go.mod.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// StartVersityGW starts versitygw on a free loopback port with a posix
// backend in t.TempDir(), waits until it answers S3 requests, and stops it
// at t.Cleanup. The test is skipped when the binary is missing (run
// scripts/versitygw.sh), unless CI=true, where it fails.
func StartVersityGW(t testing.TB) *VersityGW {
	t.Helper()
	bin := VersityGWBinary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("versitygw not found: run scripts/versitygw.sh or set VERSITYGW_BIN")
		}
		t.Skip("versitygw not found: run scripts/versitygw.sh or set VERSITYGW_BIN")
	}

	base := t.TempDir()
	gw := &VersityGW{
		AccessKeyID:     "vgwtestaccess",
		SecretAccessKey: "vgwtestsecret",
		Dir:             filepath.Join(base, "data"),
	}
	sidecar := filepath.Join(base, "meta")
	for _, d := range []string{gw.Dir, sidecar} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The port is picked by the kernel and released just before versitygw
	// binds it; a lost race shows up as an early exit, and is retried.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		gw.Endpoint = "http://" + addr
		gw.t, gw.bin, gw.addr, gw.sidecar = t, bin, addr, sidecar
		lastErr = gw.start()
		if lastErr == nil {
			t.Cleanup(func() {
				gw.halt(false)
				if t.Failed() {
					t.Logf("versitygw output:\n%s", gw.output())
				}
			})
			return gw
		}
	}
	t.Fatalf("start versitygw: %v", lastErr)
	return nil
}

// Pause stops versitygw with SIGSTOP: connections stay open and requests
// wait, as behind a hung server, until Resume. Kill, Restart and Cleanup
// resume it first.
func (gw *VersityGW) Pause() { gw.signal(syscall.SIGSTOP) }

// Resume continues a paused versitygw (SIGCONT).
func (gw *VersityGW) Resume() { gw.signal(syscall.SIGCONT) }

func (gw *VersityGW) signal(sig os.Signal) {
	gw.t.Helper()
	gw.mu.Lock()
	p := gw.proc
	gw.mu.Unlock()
	if p == nil {
		gw.t.Fatal("versitygw is not running")
	}
	if err := p.Signal(sig); err != nil {
		gw.t.Fatalf("versitygw: %s: %v", sig, err)
	}
}

// Kill stops versitygw with SIGKILL, as a crash would: open connections
// are reset and new ones refused until Restart. It waits until the process
// has exited. Killing a stopped gateway does nothing.
func (gw *VersityGW) Kill() { gw.halt(true) }

// Restart starts versitygw again on the same port and backend directories,
// stopping it first if it runs, and waits until it answers. Buckets and
// objects written before survive; the test fails if it does not come up.
func (gw *VersityGW) Restart() {
	gw.t.Helper()
	gw.halt(false)
	var err error
	// The port was just released; give a slow exit a few tries to let go.
	for attempt := 0; attempt < 3; attempt++ {
		if err = gw.start(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	gw.t.Fatalf("restart versitygw: %v", err)
}

// halt stops the current process, if any.
func (gw *VersityGW) halt(kill bool) {
	gw.mu.Lock()
	stop := gw.stop
	gw.stop, gw.proc = nil, nil
	gw.mu.Unlock()
	if stop != nil {
		stop(kill)
	}
}

func (gw *VersityGW) output() string {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	if gw.out == nil {
		return ""
	}
	return gw.out.String()
}

// start runs versitygw on gw.addr and waits until it answers; on success
// gw.stop stops it.
func (gw *VersityGW) start() error {
	bin, addr, sidecar := gw.bin, gw.addr, gw.sidecar
	out := &syncBuffer{}
	if prev := gw.output(); prev != "" {
		_, _ = out.Write([]byte(prev + "--- restart ---\n"))
	}
	// Not CommandContext: the process must outlive the call and is
	// stopped by Kill, Restart or Cleanup.
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", "--sidecar", sidecar, gw.Dir)
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY_ID="+gw.AccessKeyID,
		"ROOT_SECRET_ACCESS_KEY="+gw.SecretAccessKey,
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func(kill bool) {
		select {
		case <-exited:
			return
		default:
		}
		if kill {
			_ = cmd.Process.Kill()
			<-exited
			return
		}
		_ = cmd.Process.Signal(syscall.SIGCONT) // a paused process takes no SIGINT
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		// Any HTTP answer (an unsigned request gets 403) means it is up.
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gw.Endpoint+"/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			gw.mu.Lock()
			gw.out, gw.stop, gw.proc = out, stop, cmd.Process
			gw.mu.Unlock()
			return nil
		}
		select {
		case err := <-exited:
			exited <- err // for stop
			return errors.New("versitygw exited: " + strings.TrimSpace(out.String()))
		case <-ctx.Done():
			stop(false)
			return errors.New("versitygw did not answer in 30s: " + strings.TrimSpace(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// syncBuffer collects a process's output while tests read it.
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
