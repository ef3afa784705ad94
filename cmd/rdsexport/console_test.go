package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// chromiumPath finds headless Chromium (scripts/chromium.sh installs
// Debian's): $CHROMIUM, else chromium or google-chrome on $PATH. Without
// one the test skips, except in CI, where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found (run scripts/chromium.sh or set CHROMIUM)")
	}
	t.Skip("Chromium not found: run scripts/chromium.sh (apt-get install chromium) or set CHROMIUM to run the browser test")
	return ""
}

// artifactsDir is where screenshots go: $RDSEXPORT_ARTIFACTS, else
// .artifacts/ at the top of the repository.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RDSEXPORT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserTab is one tab of its own browser context (its own cookies).
type browserTab struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
}

func newTab(t *testing.T, browser context.Context, base, artifacts string) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	return &browserTab{t: t, ctx: ctx, base: base, artifacts: artifacts}
}

// do runs steps, each within 20 s.
func (b *browserTab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// submit clicks a submit button and waits for the page it leads to.
func (b *browserTab) submit(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("submit %s: %v", sel, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true.
func (b *browserTab) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !eval[bool](b, expr) {
		if time.Now().After(deadline) {
			b.screenshot("timeout-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("%s: not after %s (%s)", what, timeout, eval[string](b, "document.body.innerText.slice(0, 2000)"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *browserTab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.artifacts, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserTab) signIn(key, secret string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + "/console/"))
	b.waitFor("sign-in page", `location.pathname === "/console/login"`, 10*time.Second)
	b.do(chromedp.SendKeys(chromedp.ID("access_key_id"), key), chromedp.SendKeys(chromedp.ID("secret_access_key"), secret))
	b.submit("#sign-in")
	b.waitFor("signed in", `location.pathname === "/console/" && !!document.getElementById("account")`, 10*time.Second)
}

// TestConsole_Browser drives the console in headless Chromium: sign in,
// start an export of a 2M-row table, watch its progress grow without a
// reload, cancel it and see CANCELED, see why a snapshot failed, browse
// the export's objects, and check that another account's session sees
// none of it. Screenshots go to the artifacts directory.
func TestConsole_Browser(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Chromium and a 2M-row table")
	}
	chromium := chromiumPath(t)
	db := exporttest.NewPostgresDB(t, bigTableSQL)
	s := startServer(t, db.URL, func(c *Config) {
		// One connection and small files: the export takes long enough
		// to watch and has files before it is canceled.
		c.ExportConnections = 1
		c.ExportFileBytes = 1 << 20
		c.Instances = []SourceConfig{{Identifier: "gone", Engine: "postgres", URL: "postgres://postgres:pw@127.0.0.1:1/x?connect_timeout=2"}}
		c.Credentials = append(c.Credentials, Credential{AccessKeyID: "team2", SecretAccessKey: "s2", AccountID: "111122223333"})
	})
	artifacts := artifactsDir(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))...)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium %s: %v", chromium, err)
	}

	b := newTab(t, browser, s.URL(), artifacts)
	b.signIn("test", "test")
	b.screenshot("01-dashboard")

	// A hostile ExportOnly: the service's error is shown, as text.
	b.do(chromedp.SendKeys(chromedp.ID("export-only"), `<img id=injected src=x onerror=alert(1)>`))
	b.submit("#start-export")
	if got := eval[string](b, `document.getElementById("error").innerText`); !strings.Contains(got, "InvalidExportOnly") || !strings.Contains(got, "<img id=injected") {
		t.Errorf("error shown: %q, want InvalidExportOnly quoting the input as text", got)
	}
	if eval[bool](b, `!!document.getElementById("injected")`) {
		t.Error("the ExportOnly value became markup")
	}
	b.screenshot("02-start-error")

	// Start the export of the 2M-row table from the form.
	b.do(
		chromedp.SetValue(chromedp.ID("export-identifier"), "big-export"),
		chromedp.SetValue(chromedp.ID("export-only"), db.Name+".public.big"),
		chromedp.SetValue(chromedp.ID("export-prefix"), "console"),
	)
	b.submit("#start-export")
	b.waitFor("export page", `location.pathname === "/console/exports/big-export"`, 10*time.Second)

	// The page updates itself: a mark set now survives while the rows
	// read grow.
	eval[bool](b, `window.sameDocument = true`)
	rows := `Number(document.querySelector("#tables tr[data-rows]")?.dataset.rows || 0)`
	b.waitFor("rows read", rows+` > 0`, 30*time.Second)
	first, firstPct := eval[int64](b, rows), eval[int](b, `Number(document.getElementById("overall").value)`)
	b.waitFor("rows grow", rows+` > `+fmt.Sprint(first), 10*time.Second)
	second := eval[int64](b, rows)
	b.waitFor("overall bar moves", `Number(document.getElementById("overall").value) > `+fmt.Sprint(firstPct), 10*time.Second)
	if !eval[bool](b, `window.sameDocument === true`) {
		t.Error("the page was reloaded to show progress")
	}
	if second <= first {
		t.Errorf("rows read %d, then %d: want growth", first, second)
	}
	t.Logf("rows read: %d, then %d; overall bar from %d%%", first, second, firstPct)
	// Cancel once a file is stored, so that there is something to browse.
	b.waitFor("a file stored", `Number(document.querySelector("#tables tr[data-files]")?.dataset.files || 0) > 0`, 30*time.Second)
	b.screenshot("03-export-running")

	b.submit("#cancel")
	b.waitFor("CANCELED", `document.getElementById("task")?.dataset.status === "CANCELED"`, 15*time.Second)
	if eval[bool](b, `!!document.getElementById("cancel")`) {
		t.Error("a CANCELED export still offers Cancel")
	}
	b.screenshot("04-export-canceled")

	// Its files, through the console's object browser.
	b.submit("#browse")
	b.waitFor("object listing", `!!document.querySelector("#objects tr.folder a")`, 10*time.Second)
	if got := eval[string](b, `document.querySelector("#objects").innerText`); !strings.Contains(got, db.Name) {
		t.Errorf("export folder lists %q, want the database folder %s", got, db.Name)
	}
	for range 3 { // down to the table's batch folder
		b.submit("#objects tr.folder a")
	}
	b.waitFor("part files", `!!document.querySelector("#objects tr.object a")`, 10*time.Second)
	download := eval[string](b, `document.querySelector("#objects tr.object a").href`)
	b.screenshot("05-objects")

	// A snapshot of an unreachable instance fails, and says why.
	b.do(chromedp.Navigate(s.URL() + "/console/"))
	b.do(chromedp.SetValue(chromedp.ID("snapshot-identifier"), "broken-snap"), chromedp.SetValue(chromedp.ID("snapshot-source"), "instance:gone"))
	b.submit("#create-snapshot")
	row := `document.getElementById("snapshot-db-broken-snap")`
	b.waitFor("snapshot failed", row+`?.dataset.status === "failed"`, 30*time.Second)
	reason := eval[string](b, row+`.nextElementSibling.innerText`)
	if !strings.Contains(reason, "Failure reason") || len(reason) < 30 {
		t.Errorf("failed snapshot shows %q, want its reason", reason)
	}
	t.Logf("failed snapshot: %s", strings.Join(strings.Fields(reason), " "))
	b.screenshot("06-snapshots")

	// Without JavaScript the pages read the same.
	b.do(func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	}, chromedp.Navigate(s.URL()+"/console/exports/big-export"))
	time.Sleep(1500 * time.Millisecond) // a refresh would have run by now
	if !eval[bool](b, `document.getElementById("task").dataset.status === "CANCELED" && !!document.querySelector("#tables tr[data-rows]")`+
		` && !document.documentElement.hasAttribute("data-refreshed")`) {
		t.Errorf("without JavaScript the export page reads %q", eval[string](b, "document.body.innerText.slice(0, 500)"))
	}
	b.screenshot("07-no-javascript")

	// Another account sees none of it.
	o := newTab(t, browser, s.URL(), artifacts)
	o.signIn("team2", "s2")
	if got := eval[string](o, `document.getElementById("account").innerText`); got != "111122223333" {
		t.Errorf("signed in as account %q", got)
	}
	if eval[bool](o, `!!document.getElementById("task-big-export") || !!document.getElementById("snapshot-db-broken-snap")`) {
		t.Error("another account's dashboard shows the export or the snapshot")
	}
	if got := eval[string](o, `document.body.innerText`); strings.Contains(got, "big-export") || strings.Contains(got, "broken-snap") {
		t.Errorf("another account's dashboard mentions the export or snapshot: %q", got)
	}
	o.screenshot("08-other-account")
	for _, c := range []struct{ path, want string }{
		{"/console/exports/big-export", "ExportTaskNotFound"},
		{"/console/objects?bucket=" + s.Bucket, "NoSuchBucket"},
		{strings.TrimPrefix(download, s.URL()), "Not found"},
	} {
		o.do(chromedp.Navigate(s.URL() + c.path))
		if got := eval[string](o, `document.body.innerText`); !strings.Contains(got, c.want) {
			t.Errorf("another account at %s sees %q, want %s", c.path, got, c.want)
		}
	}
	o.screenshot("09-other-account-download")
}
