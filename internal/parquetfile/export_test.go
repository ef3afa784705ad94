package parquetfile

import "github.com/apache/arrow-go/v18/arrow"

// SetEncoding replaces the dictionary policy, the sampling knobs and the
// page buffer size for a benchmark; the returned func restores them.
func SetEncoding(policy func(arrow.Array) bool, sample, pageBuffer int) (restore func()) {
	p, s, b := dictionaryPolicy, dictSample, pageBytes
	if policy != nil {
		dictionaryPolicy = policy
	}
	if sample > 0 {
		dictSample = sample
	}
	if pageBuffer > 0 {
		pageBytes = pageBuffer
	}
	return func() { dictionaryPolicy, dictSample, pageBytes = p, s, b }
}

// SetDirectPages selects the page encoder (true) or the parquet-go column
// writers (false) for a benchmark; the returned func restores the default.
func SetDirectPages(on bool) (restore func()) {
	d := directPages
	directPages = on
	return func() { directPages = d }
}
