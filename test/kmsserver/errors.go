package kmsserver

import (
	"fmt"
	"net/http"
)

// kmsError is an error as KMS sends it: {"__type": Type, "message": Msg}
// with the HTTP status KMS uses for that type.
type kmsError struct {
	Type   string
	Msg    string
	record bool // the call reached an operation, so CloudTrail logs it
}

func errf(typ, format string, args ...any) *kmsError {
	return &kmsError{Type: typ, Msg: fmt.Sprintf(format, args...)}
}

// statusOf is KMS's HTTP status per error type: every client error is 400
// (throttling and access denial included), internal failures are 5xx.
var statusOf = map[string]int{
	"KMSInternalException":                http.StatusInternalServerError,
	"InternalFailure":                     http.StatusInternalServerError,
	"ServiceUnavailable":                  http.StatusServiceUnavailable,
	"DependencyTimeoutException":          http.StatusServiceUnavailable,
	"KeyUnavailableException":             http.StatusInternalServerError,
	"MissingAuthenticationTokenException": http.StatusForbidden,
	"InvalidSignatureException":           http.StatusBadRequest,
}

func (e *kmsError) status() int {
	if st, ok := statusOf[e.Type]; ok {
		return st
	}
	return http.StatusBadRequest
}

// Helpers for the messages KMS uses most.

func notFound(id string) *kmsError {
	return errf("NotFoundException", "Key '%s' does not exist", id)
}

func validation(format string, args ...any) *kmsError {
	return errf("ValidationException", "1 validation error detected: "+format, args...)
}

func keyUsage(arn, usage, op string) *kmsError {
	return errf("InvalidKeyUsageException", "%s key usage is %s which is not valid for %s.", arn, usage, op)
}
