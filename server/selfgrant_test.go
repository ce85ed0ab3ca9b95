package server

import (
	"slices"
	"testing"
)

// Every RPC that uses a key's secret half is a data-plane action a policy
// change may not grant its own author alone: a new crypto RPC must be
// added to dataPlaneActions (or be a public-key operation).
func TestDataPlaneActionsCoverEveryCryptoMethod(t *testing.T) {
	public := []string{"kms:Verify", "kms:GetPublicKey"}
	for name, m := range methods {
		if !m.crypto {
			continue
		}
		if !slices.Contains(dataPlaneActions, m.action) && !slices.Contains(public, m.action) {
			t.Errorf("%s: action %s is not in dataPlaneActions", name, m.action)
		}
	}
	for _, a := range []string{alsoSign(nil), "kms:ReEncryptTo", "kms:Decrypt", "kms:DeriveSharedSecret"} {
		if !slices.Contains(dataPlaneActions, a) {
			t.Errorf("%s is not in dataPlaneActions", a)
		}
	}
}
