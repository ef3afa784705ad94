package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rdsexport/rdsexport/internal/exporttest"
)

// runCLI runs the command line args with an empty environment.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // a command that would serve stops at once
	err = run(ctx, args, func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestRun_Help(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, _, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, "rdsexport serve") || !strings.Contains(out, "rdsexport version") {
			t.Errorf("%v: err %v, stdout %q", args, err, out)
		}
	}
	if _, errOut, err := runCLI(t); err == nil || !strings.Contains(errOut, "usage:") {
		t.Errorf("no command: err %v, stderr %q", err, errOut)
	}
	if _, _, err := runCLI(t, "frobnicate"); err == nil || exitCode(err) == 0 {
		t.Errorf("unknown command: %v", err)
	}
	out, _, err := runCLI(t, "store", "--help")
	if err != nil || !strings.Contains(out, "store backup") {
		t.Errorf("store --help: err %v, stdout %q", err, out)
	}
}

func TestRun_Version(t *testing.T) {
	out, _, err := runCLI(t, "version")
	if err != nil || out != "rdsexport "+buildVersion()+"\n" {
		t.Fatalf("version: err %v, stdout %q", err, out)
	}
	old := version
	version = "v9.8.7"
	defer func() { version = old }()
	if out, _, _ := runCLI(t, "version"); out != "rdsexport v9.8.7\n" {
		t.Fatalf("version with -X main.version: %q", out)
	}
}

// envRead finds every RDSEXPORT_* variable the command's source names.
func envRead(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(RDSEXPORT_[A-Z0-9_]+)"`)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestRun_ServeHelp(t *testing.T) {
	out, _, err := runCLI(t, "serve", "--help")
	if err != nil {
		t.Fatalf("serve --help: %v", err)
	}
	env := envRead(t)
	if len(env) < 5 {
		t.Fatalf("found only %v in the source", env)
	}
	for _, name := range append(env, "--config", "--listen", "--data-dir") {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` +\S`).MatchString(out) {
			t.Errorf("serve --help has no line for %s:\n%s", name, out)
		}
	}
	// Demo flags belong to demo alone.
	if strings.Contains(out, "--rows") || strings.Contains(out, "--postgres") {
		t.Errorf("serve --help lists demo flags:\n%s", out)
	}
	if _, _, err := runCLI(t, "serve", "--rows", "5"); err == nil {
		t.Error("serve accepted --rows")
	}
	out, _, err = runCLI(t, "demo", "--help")
	if err != nil || !strings.Contains(out, "--rows") || !strings.Contains(out, "--postgres") {
		t.Errorf("demo --help: err %v\n%s", err, out)
	}
	if out2, _, err := runCLI(t, "help", "demo"); err != nil || out2 != out {
		t.Errorf("help demo: err %v\n%s", err, out2)
	}
	if _, _, err := runCLI(t, "demo", "--rows", "-1"); err == nil {
		t.Error("demo accepted --rows -1")
	}
}

func TestFillBigTable(t *testing.T) {
	db := exporttest.NewPostgresDB(t, "")
	count := func() int64 {
		conn, err := pgx.Connect(t.Context(), db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		var n int64
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+bigTable).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, rows := range []int64{200_000, 200_000, 1_000} {
		if err := fillBigTable(t.Context(), db.URL, rows); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != rows {
			t.Fatalf("--rows %d: %s holds %d rows", rows, bigTable, n)
		}
	}
}
