package sigv4_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"

	"github.com/rdsexport/rdsexport/internal/awsquery"
	"github.com/rdsexport/rdsexport/internal/export"
	"github.com/rdsexport/rdsexport/internal/service"
	"github.com/rdsexport/rdsexport/internal/sigv4"
)

// callerService answers DescribeDBClusters with one cluster and records the
// caller it saw in the context.
type callerService struct {
	awsquery.Service
	caller chan export.Caller
}

func (s callerService) DescribeDBClusters(ctx context.Context, in service.DescribeDBClustersInput) (*service.DescribeDBClustersOutput, error) {
	c, _ := export.CallerFrom(ctx)
	s.caller <- c
	return &service.DescribeDBClustersOutput{DBClusters: []export.DBCluster{{Identifier: aws.ToString(in.DBClusterIdentifier)}}}, nil
}

// TestVerifier_Middleware drives the real RDS client through the verifier
// in front of the Query handler.
func TestVerifier_Middleware(t *testing.T) {
	svc := callerService{caller: make(chan export.Caller, 1)}
	v := &sigv4.Verifier{Credentials: keys{testKey: testSecret}, Now: time.Now, Service: "rds"}
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		awsquery.WriteError(w, "req-1", err)
	}
	srv := httptest.NewServer(v.Middleware(&awsquery.Handler{Service: svc}, 1<<20, fail))
	defer srv.Close()
	client := func(secret, region string) *rds.Client {
		return rds.New(rds.Options{
			Region:       region,
			BaseEndpoint: aws.String(srv.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: testKey, SecretAccessKey: secret}, nil
			}),
			RetryMaxAttempts: 1,
		})
	}

	t.Run("OK", func(t *testing.T) {
		out, err := client(testSecret, "eu-central-1").DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{
			DBClusterIdentifier: aws.String("pg main & co"),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := export.Caller{AccessKeyID: testKey, AccountID: testAccount, Region: "eu-central-1"}
		if got := <-svc.caller; got != want {
			t.Errorf("caller = %+v, want %+v", got, want)
		}
		if got := aws.ToString(out.DBClusters[0].DBClusterArn); got != "arn:aws:rds:eu-central-1:123456789012:cluster:pg main & co" {
			t.Errorf("arn = %s", got)
		}
	})
	t.Run("SignatureDoesNotMatch", func(t *testing.T) {
		_, err := client("wrong", "us-east-1").DescribeDBClusters(t.Context(), &rds.DescribeDBClustersInput{})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != export.CodeSignatureDoesNotMatch {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(api.ErrorMessage(), "wrong") {
			t.Error("message reveals the secret")
		}
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		small := httptest.NewServer(v.Middleware(&awsquery.Handler{Service: svc}, 16, fail))
		defer small.Close()
		resp, err := http.Post(small.URL, "application/x-www-form-urlencoded", strings.NewReader(strings.Repeat("a", 100)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
}
