//go:build cgo

package pkcs11

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"testing"
)

func TestDERSignature(t *testing.T) {
	for _, tc := range []struct{ r, s string }{
		{"01", "02"},
		{"80", "7f"},
		{"00000000ff", "0000000001"},
		{"0000", "ffff"},
	} {
		r, _ := new(big.Int).SetString(tc.r, 16)
		s, _ := new(big.Int).SetString(tc.s, 16)
		rs := append(pad(r, 5), pad(s, 5)...)
		want, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		if got := derSignature(rs); !bytes.Equal(got, want) {
			t.Errorf("derSignature(%x) = %x, want %x", rs, got, want)
		}
	}
}

func pad(n *big.Int, size int) []byte {
	return n.FillBytes(make([]byte, size))
}
