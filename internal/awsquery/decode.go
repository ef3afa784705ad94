package awsquery

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
)

// params are the decoded request parameters; for a key sent several times
// the last value wins.
type params map[string]string

// readParams merges the URL query string and, for any method but GET and
// HEAD, the form body; body values win (spec §1.2). The body is read through
// http.MaxBytesReader, so at most limit+1 bytes are ever read.
//
// Errors: InvalidParameterValue when the body exceeds limit,
// MalformedQueryString when either part is not valid form encoding; other
// errors are read failures. Text that is not UTF-8 is left to checkUTF8.
func readParams(w http.ResponseWriter, r *http.Request, limit int64) (params, error) {
	p := params{}
	if err := parseForm(p, r.URL.RawQuery); err != nil {
		return nil, err
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, export.Errorf(export.CodeInvalidParameterValue,
				"The request body exceeds the maximum size of %d bytes.", limit)
		}
		return nil, err
	}
	if err := parseForm(p, string(body)); err != nil {
		return nil, err
	}
	return p, nil
}

// checkUTF8 refuses a request with a parameter name or value that is not
// valid UTF-8: such text cannot be stored, compared or sent back in an XML
// response faithfully, so it is refused before any operation sees it.
//
// Errors: InvalidParameterValue naming the first such parameter (in sorted
// order, so that the answer does not depend on map order), its name cut to
// 64 bytes with invalid bytes shown as U+FFFD.
func checkUTF8(p params) error {
	var bad []string
	for k, v := range p {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	name := slices.Min(bad)
	if len(name) > 64 {
		name = name[:64]
	}
	return export.Errorf(export.CodeInvalidParameterValue,
		"The parameter %s is not valid: parameter names and values must be valid UTF-8.", strings.ToValidUTF8(name, "\uFFFD"))
}

// parseForm adds the pairs of an application/x-www-form-urlencoded string
// to p. Both "+" and "%20" decode to a space.
func parseForm(p params, s string) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return malformed()
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return malformed()
		}
		p[key] = val
	}
	return nil
}

func malformed() error {
	return export.Errorf(export.CodeMalformedQueryString, "The query string is malformed: invalid percent-encoding.")
}

// str returns a pointer to the value of key, or nil when it is absent.
func (p params) str(key string) *string {
	v, ok := p[key]
	if !ok {
		return nil
	}
	return &v
}

// int returns the value of an Integer member, or nil when it is absent.
//
// Errors: InvalidParameterValue when the value is not a decimal 32-bit
// integer (the model's Integer).
func (p params) int(key string) (*int, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return nil, export.Errorf(export.CodeInvalidParameterValue,
			"Invalid value '%s' for parameter %s: must be an integer.", v, key)
	}
	i := int(n)
	return &i, nil
}

// timeLayouts are the ISO 8601 forms a Timestamp member is accepted in:
// the SDKs send RFC 3339 with or without fractional seconds, the RDS
// documentation's example is 2009-07-08T18:00Z, and a bare date is
// midnight UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// time returns the value of a Timestamp member, or nil when it is absent.
// A time without a zone is UTC.
//
// Errors: InvalidParameterValue when the value is in none of timeLayouts.
func (p params) time(key string) (*time.Time, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, export.Errorf(export.CodeInvalidParameterValue,
		"Invalid value '%s' for parameter %s: must be an ISO 8601 time such as 2009-07-08T18:00Z.", v, key)
}

// bool returns the value of a Boolean member, or nil when it is absent.
//
// Errors: InvalidParameterValue unless the value is true or false (any case).
func (p params) bool(key string) (*bool, error) {
	v, ok := p[key]
	if !ok {
		return nil, nil
	}
	var b bool
	switch {
	case strings.EqualFold(v, "true"):
		b = true
	case strings.EqualFold(v, "false"):
	default:
		return nil, export.Errorf(export.CodeInvalidParameterValue,
			"Invalid value '%s' for parameter %s: must be true or false.", v, key)
	}
	return &b, nil
}

// listItems collects the items of the list at prefix, whose keys are
// <prefix>.<item>.<N>[.<rest>]: it maps each index N to the key suffix
// after it ("" or ".<rest>") and that key's value. present reports whether
// the list was sent at all; the bare key "<prefix>=" alone means an empty
// list (spec §1.2). One pass over the keys, no allocation by index value.
//
// Errors: InvalidParameterValue for an index that is not a canonical
// positive decimal, or a bare key with a value.
func (p params) listItems(prefix, item string) (items map[string]map[string]string, present bool, err error) {
	bare, present := p[prefix]
	if present && bare != "" {
		return nil, false, export.Errorf(export.CodeInvalidParameterValue,
			"Invalid value '%s' for list parameter %s.", bare, prefix)
	}
	head := prefix + "." + item + "."
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, head)
		if !ok {
			continue
		}
		n, tail, dotted := strings.Cut(rest, ".")
		if !canonicalIndex(n) {
			return nil, false, export.Errorf(export.CodeInvalidParameterValue,
				"Invalid list index in parameter %s.", k)
		}
		if dotted {
			tail = "." + tail
		}
		if items == nil {
			items = map[string]map[string]string{}
		}
		m := items[n]
		if m == nil {
			m = map[string]string{}
			items[n] = m
		}
		m[tail] = v
	}
	return items, present || items != nil, nil
}

// sortedIndexes returns the keys of items in numeric order. Indexes are
// canonical decimals, so comparing length then bytes is numeric order even
// for indexes too large for any integer type.
func sortedIndexes[V any](items map[string]V) []string {
	idx := make([]string, 0, len(items))
	for n := range items {
		idx = append(idx, n)
	}
	slices.SortFunc(idx, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return idx
}

// canonicalIndex reports whether s is a positive decimal with no sign and
// no leading zero, so that equal indexes have equal spellings.
func canonicalIndex(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// list returns a list of strings (<prefix>.<item>.N) in index order: nil
// when absent, empty and non-nil for the bare key.
//
// Errors: as listItems; also InvalidParameterValue for an item key with
// anything after the index.
func (p params) list(prefix, item string) ([]string, error) {
	items, present, err := p.listItems(prefix, item)
	if err != nil || !present {
		return nil, err
	}
	return stringItems(prefix, items)
}

func stringItems(prefix string, items map[string]map[string]string) ([]string, error) {
	out := make([]string, 0, len(items))
	for _, n := range sortedIndexes(items) {
		m := items[n]
		v, ok := m[""]
		if !ok || len(m) != 1 {
			return nil, export.Errorf(export.CodeInvalidParameterValue,
				"Invalid list item in parameter %s.", prefix)
		}
		out = append(out, v)
	}
	return out, nil
}

// filters decodes Filters.Filter.N.Name and Filters.Filter.N.Values.Value.M
// (spec §2.2) in one pass: nil when absent, empty and non-nil for the bare
// key. Keys of a filter other than Name and Values are ignored.
//
// Errors: MissingParameter for a filter without Name; InvalidParameterValue
// as for list.
func (p params) filters() ([]service.Filter, error) {
	items, present, err := p.listItems("Filters", "Filter")
	if err != nil || !present {
		return nil, err
	}
	out := make([]service.Filter, 0, len(items))
	for _, n := range sortedIndexes(items) {
		m := items[n]
		base := "Filters.Filter." + n
		name, ok := m[".Name"]
		if !ok {
			return nil, export.Errorf(export.CodeMissingParameter,
				"The request must contain the parameter %s.Name", base)
		}
		f := service.Filter{Name: name}
		// The values are a nested list; regroup its keys by their index.
		vp := params{}
		for tail, v := range m {
			if rest, ok := strings.CutPrefix(tail, ".Values"); ok {
				vp["Values"+rest] = v
			}
		}
		if f.Values, err = vp.list("Values", "Value"); err != nil {
			return nil, export.Errorf(export.CodeInvalidParameterValue,
				"Invalid list item in parameter %s.Values.", base)
		}
		out = append(out, f)
	}
	return out, nil
}

// tags decodes Tags.Tag.N.Key and Tags.Tag.N.Value in index order: nil when
// absent, empty and non-nil for the bare key. A tag without Key has the
// empty key (the service rejects it); other keys of a tag are ignored.
//
// Errors: InvalidParameterValue as for list.
func (p params) tags() ([]export.Tag, error) {
	items, present, err := p.listItems("Tags", "Tag")
	if err != nil || !present {
		return nil, err
	}
	out := make([]export.Tag, 0, len(items))
	for _, n := range sortedIndexes(items) {
		m := items[n]
		out = append(out, export.Tag{Key: m[".Key"], Value: m[".Value"]})
	}
	return out, nil
}
