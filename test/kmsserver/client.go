package kmsserver

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestAccessKeyID is the access key AWSConfig signs with; the server
// checks its signatures.
const (
	TestAccessKeyID     = "AKIAKMSSERVERTEST001"
	TestSecretAccessKey = "kmsserver-test-secret"
)

// AWSConfig is an AWS config for a real SDK client of this server: its
// region, static test credentials, and the server as base endpoint
// (kms.NewFromConfig(s.AWSConfig()) needs nothing else).
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(TestAccessKeyID, TestSecretAccessKey, ""),
		BaseEndpoint: aws.String(s.URL),
	}
}
