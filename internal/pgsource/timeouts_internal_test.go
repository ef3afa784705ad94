package pgsource

import "testing"

// TestTransactionTimeout: transaction_timeout is switched off on servers
// that have it (PostgreSQL 17+) and never named to older ones, which
// refuse an unknown setting.
func TestTransactionTimeout(t *testing.T) {
	for v, want := range map[string]bool{
		"17.2 (Debian 17.2-1.pgdg120+1)": true,
		"17.0":                           true,
		"18beta1":                        true,
		"17devel":                        true,
		"16.4":                           false,
		"15.20 (Debian 15.20-0+deb12u1)": false,
		"9.6.24":                         false,
		"":                               false,
	} {
		if got := transactionTimeout(v); got != want {
			t.Errorf("transactionTimeout(%q) = %v, want %v", v, got, want)
		}
	}
}
