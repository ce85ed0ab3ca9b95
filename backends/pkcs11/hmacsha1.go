//go:build cgo

package pkcs11

import (
	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/keys"
)

// SHA-1 HMAC (keys.HMAC160) is here for RFC 4226 HOTP, whose test vectors
// and deployed authenticators are HMAC-SHA-1. The key is a 20-byte generic
// secret (or CKK_SHA_1_HMAC) like the other HMAC keys; the mechanism is
// CKM_SHA_1_HMAC, which SoftHSM2 and CloudHSM both implement.
func init() {
	mechHMAC[keys.HMACSHA1] = []*p11.Mechanism{p11.NewMechanism(p11.CKM_SHA_1_HMAC, nil)}
}
