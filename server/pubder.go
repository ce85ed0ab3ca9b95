package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"sync"
)

// pubDERs caches the PKIX DER of the public keys GetPublicKey serves:
// encoding one costs more CPU (reflection in encoding/asn1) than the rest
// of the call's handler. Keyed by the backend handle's public key value,
// which a handle returns unchanged for its life; cleared when full, so
// handles reopened over time cannot grow it without bound.
var pubDERs struct {
	sync.Mutex
	m map[crypto.PublicKey][]byte
}

const maxPubDERs = 4096

// publicDER is x509.MarshalPKIXPublicKey(pub), cached. The slice is shared:
// callers must not modify it.
func publicDER(pub crypto.PublicKey) ([]byte, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
	default: // only pointers are safe (and cheap) map keys
		return x509.MarshalPKIXPublicKey(pub)
	}
	pubDERs.Lock()
	der, ok := pubDERs.m[pub]
	pubDERs.Unlock()
	if ok {
		return der, nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	pubDERs.Lock()
	if pubDERs.m == nil || len(pubDERs.m) >= maxPubDERs {
		pubDERs.m = make(map[crypto.PublicKey][]byte)
	}
	pubDERs.m[pub] = der
	pubDERs.Unlock()
	return der, nil
}
