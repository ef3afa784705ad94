package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/rdsexport/rdsexport/internal/engine"
)

func TestProgress_ObserveExport(t *testing.T) {
	p := NewProgress(2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tables := []engine.TableProgress{{Target: "db.public.t", EstimatedBytes: 100, Rows: 5, Bytes: 50, Files: 1}}
	p.ObserveExport(engine.Progress{AccountID: "a", Identifier: "x", At: t0, Bytes: 50, Tables: tables})
	p.ObserveExport(engine.Progress{AccountID: "a", Identifier: "x", At: t0.Add(time.Second), Bytes: 80, Tables: tables})

	v, ok := p.view("a", "x")
	if !ok || len(v.Tables) != 1 || len(v.Samples) != 2 || v.Ended {
		t.Fatalf("view = %+v, %v", v, ok)
	}
	if _, ok := p.view("b", "x"); ok {
		t.Error("another account's view of the same identifier")
	}
	// The view is a copy.
	v.Tables[0].Rows = 999
	if w, _ := p.view("a", "x"); w.Tables[0].Rows != 5 {
		t.Error("view shares its tables")
	}

	// The oldest ended export is forgotten first.
	p.ObserveExport(engine.Progress{AccountID: "a", Identifier: "y", At: t0.Add(2 * time.Second), Ended: true})
	p.ObserveExport(engine.Progress{AccountID: "a", Identifier: "z", At: t0.Add(3 * time.Second)})
	if _, ok := p.view("a", "y"); ok {
		t.Error("ended export kept over a running one")
	}
	if _, ok := p.view("a", "x"); !ok {
		t.Error("running export forgotten")
	}

	// A long run keeps a bounded history that spans it.
	for i := range 1000 {
		p.ObserveExport(engine.Progress{AccountID: "a", Identifier: "z", At: t0.Add(time.Duration(i) * time.Second), Bytes: int64(i)})
	}
	z, _ := p.view("a", "z")
	if len(z.Samples) > maxSamples || z.Samples[len(z.Samples)-1].Bytes != 999 {
		t.Errorf("%d samples, last %+v", len(z.Samples), z.Samples[len(z.Samples)-1])
	}
}

func TestThroughputChart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if ch := throughputChart([]sample{{At: t0}}); len(ch.Bars) != 0 {
		t.Errorf("one sample drew %d bars", len(ch.Bars))
	}
	ch := throughputChart([]sample{{t0, 0}, {t0.Add(time.Second), 1 << 20}, {t0.Add(3 * time.Second), 2 << 20}})
	if len(ch.Bars) != 2 || ch.Peak != 1<<20 || ch.Mean != float64(2<<20)/3 || ch.Window != chartWindow {
		t.Fatalf("chart %+v", ch)
	}
	// The first bar is the peak and full height; the second is half as
	// high, twice as wide, and starts where the first ends.
	a, b := ch.Bars[0], ch.Bars[1]
	if a.H <= 0 || fmt.Sprintf("%.3f", b.H*2) != fmt.Sprintf("%.3f", a.H) || b.X <= a.X+a.W || b.W <= a.W {
		t.Errorf("bars %+v %+v", a, b)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 10: "1.5 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 2000000: "2,000,000", -1234: "-1,234"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(" db1.public.a, db1.b\r\n\n db2 ,")
	want := []string{"db1.public.a", "db1.b", "db2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("splitList = %q, want %q", got, want)
	}
	if splitList("  ") != nil {
		t.Error("blank list is not nil")
	}
}
