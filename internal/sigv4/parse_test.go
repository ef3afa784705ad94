package sigv4

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/export"
)

func TestParseAuthorization(t *testing.T) {
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	t.Run("OK", func(t *testing.T) {
		a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/rds/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig)
		if err != nil {
			t.Fatal(err)
		}
		if a.AccessKeyID != "AKIDEXAMPLE" || a.ScopeDate != "20150830" || a.Region != "us-east-1" || a.Service != "rds" ||
			!slices.Equal(a.SignedHeaders, []string{"content-type", "host", "x-amz-date"}) || a.Signature != sig {
			t.Errorf("got %+v", a)
		}
	})
	t.Run("NoSpacesAnyOrder", func(t *testing.T) {
		a, err := parseAuthorization("AWS4-HMAC-SHA256 Signature=" + strings.ToUpper(sig) + ",SignedHeaders=host,Credential=K/20150830/eu-west-1/s3/aws4_request")
		if err != nil {
			t.Fatal(err)
		}
		if a.Signature != sig || a.Service != "s3" || a.Region != "eu-west-1" {
			t.Errorf("got %+v", a)
		}
	})
}

// FuzzParseAuthorization checks that any header either parses into a
// well-formed authorization or fails with IncompleteSignature, and that no
// error message echoes a signature.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/rds/aws4_request, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *export.Error
			if !errors.As(err, &e) || e.Code != export.CodeIncompleteSignature {
				t.Fatalf("error %v", err)
			}
			if _, rest, ok := strings.Cut(h, "Signature="); ok && len(rest) > 24 && strings.Contains(e.Message, rest[:24]) {
				t.Fatalf("message %q echoes the signature", e.Message)
			}
			return
		}
		if len(a.Signature) != 64 || !slices.Contains(a.SignedHeaders, "host") ||
			a.AccessKeyID == "" || a.Region == "" || a.Service == "" || len(a.ScopeDate) != 8 {
			t.Fatalf("accepted malformed %q as %+v", h, a)
		}
	})
}
