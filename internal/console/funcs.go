package console

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/rdsexport/rdsexport/internal/export"
)

// funcs are the helpers of the templates; each returns plain text, which
// html/template escapes.
var funcs = template.FuncMap{
	"bytes": humanBytes,
	"num":   groupDigits,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"lower": func(v any) string { return strings.ToLower(fmt.Sprint(v)) },
	"cancelable": func(s export.Status) bool {
		return s == export.StatusStarting || s == export.StatusInProgress
	},
	"rate": func(bps float64) string { return humanBytes(int64(bps)) + "/s" },
	"secs": func(d time.Duration) string { return d.Round(time.Second).String() },
	// root is the key prefix of an export's objects (spec §8.1).
	"root": func(t *export.Task) string {
		p := strings.Trim(t.S3Prefix, "/")
		if p == "" {
			return t.Identifier + "/"
		}
		return p + "/" + t.Identifier + "/"
	},
	"base":          func(key, prefix string) string { return strings.TrimPrefix(key, prefix) },
	"f1":            func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"statusFilters": func() []string { return statusFilters },
}

// humanBytes writes n in binary units: 1.5 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// groupDigits writes n with thousands separators: 2,000,000.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
