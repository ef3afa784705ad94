package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdsexport/rdsexport/internal/service"
)

func TestParseARN(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in   string
		want service.ARN
	}{
		{"arn:aws:rds:us-east-1:123456789012:cluster:pg-main",
			service.ARN{Partition: "aws", Region: "us-east-1", AccountID: "123456789012", ResourceType: "cluster", ID: "pg-main"}},
		{"arn:aws:rds:eu-west-3:123456789012:snapshot:s1",
			service.ARN{Partition: "aws", Region: "eu-west-3", AccountID: "123456789012", ResourceType: "snapshot", ID: "s1"}},
		{"arn:aws:rds:us-east-1:123456789012:snapshot:rds:db1-2026-11-27-08-00",
			service.ARN{Partition: "aws", Region: "us-east-1", AccountID: "123456789012", ResourceType: "snapshot", ID: "rds:db1-2026-11-27-08-00"}},
		{"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:pg-main-2026-11-27-08-00",
			service.ARN{Partition: "aws", Region: "us-east-1", AccountID: "123456789012", ResourceType: "cluster-snapshot", ID: "rds:pg-main-2026-11-27-08-00"}},
		{"arn:aws-cn:rds:cn-north-1:123456789012:db:Mixed",
			service.ARN{Partition: "aws-cn", Region: "cn-north-1", AccountID: "123456789012", ResourceType: "db", ID: "Mixed"}},
		{"arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:c",
			service.ARN{Partition: "aws-us-gov", Region: "us-gov-west-1", AccountID: "123456789012", ResourceType: "cluster", ID: "c"}},
		{"arn:aws:rds:local:000000000000:cluster:c",
			service.ARN{Partition: "aws", Region: "local", AccountID: "000000000000", ResourceType: "cluster", ID: "c"}},
	}
	for _, tc := range ok {
		t.Run(tc.in, func(t *testing.T) {
			got, err := service.ParseARN(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String() = %s, want %s", got.String(), tc.in)
			}
		})
	}
	bad := []string{
		"",
		"arn",
		"pg-main",
		"arn:aws:rds:us-east-1:123456789012:cluster",
		"arn:aws:rds:us-east-1:123456789012:cluster:",
		"ARN:aws:rds:us-east-1:123456789012:cluster:c",
		"arn::rds:us-east-1:123456789012:cluster:c",
		"arn:gcp:rds:us-east-1:123456789012:cluster:c",
		"arn:aws:s3:us-east-1:123456789012:cluster:c",
		"arn:aws:rds::123456789012:cluster:c",
		"arn:aws:rds:US-EAST-1:123456789012:cluster:c",
		"arn:aws:rds:us-east-1:12345678901:cluster:c",
		"arn:aws:rds:us-east-1:1234567890123:cluster:c",
		"arn:aws:rds:us-east-1:12345678901a:cluster:c",
		"arn:aws:rds:us-east-1::cluster:c",
		"arn:aws:rds:us-east-1:123456789012::c",
		"arn:aws:rds:us-east-1:123456789012:Cluster:c",
		"arn:aws:rds:us-east-1:123456789012:cluster:a b",
		"arn:aws:rds:us-east-1:123456789012:cluster:a\nb",
		"arn:aws:rds:us-east-1:123456789012:cluster:\xff",
		"arn:aws:iam::123456789012:role/r",
	}
	for _, in := range bad {
		t.Run("Err/"+in, func(t *testing.T) {
			if _, err := service.ParseARN(in); !errors.Is(err, service.ErrInvalidARN) {
				t.Fatalf("err = %v, want ErrInvalidARN", err)
			}
		})
	}
}

func FuzzParseARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:rds:us-east-1:123456789012:cluster:pg-main",
		"arn:aws:rds:us-east-1:123456789012:snapshot:rds:db1-2026-11-27-08-00",
		"arn:aws-cn:rds:cn-north-1:123456789012:cluster-snapshot:x",
		"arn:aws:rds:us-east-1:123456789012:cluster:",
		"arn:::::::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := service.ParseARN(s)
		if err != nil {
			if !errors.Is(err, service.ErrInvalidARN) {
				t.Fatalf("err = %v, want ErrInvalidARN", err)
			}
			return
		}
		if a.String() != s {
			t.Fatalf("String() = %q, want %q", a.String(), s)
		}
		if a.ID == "" || a.AccountID == "" || a.Region == "" || strings.Contains(a.ResourceType, ":") {
			t.Fatalf("accepted %q as %+v", s, a)
		}
		b, err := service.ParseARN(a.String())
		if err != nil || b != a {
			t.Fatalf("reparse = %+v, %v", b, err)
		}
	})
}
