package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"testing"
)

func testDerive(t *testing.T, c *cli) {
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hsmPub, err := publicKey(t, c, "ds-ecdh").(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	z, err := peer.ECDH(hsmPub)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pemFile := c.file("peer.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	// The 3DS session key: PEM peer key, PartyVInfo only, 256 bits.
	got := b64(t, c.ok("", "derive", "ds-ecdh", "--public-key-file", pemFile, "--party-v-info", "A000000802"))
	if want := concatKDF(z, nil, nil, []byte("A000000802")); !bytes.Equal(got, want) {
		t.Errorf("CONCAT_SHA256 = %x, want %x", got, want)
	}
	// Every Concat input, DER peer key, raw output to a file.
	c.ok("", "derive", "ds-ecdh", "--public-key-file", c.file("peer.der", der), "--kdf", "CONCAT_SHA256",
		"--algorithm-id", "A128GCM", "--party-u-info", "U", "--party-v-info", "V", "--out", c.path("cek"))
	if want := concatKDF(z, []byte("A128GCM"), []byte("U"), []byte("V")); !bytes.Equal(c.readFile(c.path("cek")), want) {
		t.Error("CONCAT_SHA256 with AlgorithmID and PartyUInfo differs from the local computation")
	}
	// HKDF with a raw point from stdin.
	got = b64(t, c.ok(string(peer.PublicKey().Bytes()), "derive", "ds-ecdh", "--public-key-file", "-", "--kdf", "HKDF_SHA256",
		"--salt-hex", "00ff10", "--info", "session", "--key-length-bits", "128"))
	want, err := hkdf.Key(sha256.New, z, []byte{0, 0xff, 0x10}, "session", 16)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("HKDF_SHA256 = %x, want %x (%v)", got, want, err)
	}

	// A point off the curve is refused; the raw secret is not allowed to leave.
	off := peer.PublicKey().Bytes()
	off[len(off)-1] ^= 1
	c.fails(exitArgument, "keygate: InvalidArgument: ", string(off), "derive", "ds-ecdh", "--public-key-file", "-")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "derive", "ds-ecdh", "--public-key-file", pemFile, "--kdf", "RAW")
	c.fails(exitUsage, "keygate: --salt-hex: ", "", "derive", "ds-ecdh", "--public-key-file", pemFile, "--salt-hex", "xyz")
	c.fails(exitUsage, `keygate: --public-key-file: PEM block "EC PRIVATE KEY"`, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
		"derive", "ds-ecdh", "--public-key-file", "-")
}

// concatKDF is NIST SP 800-56A's one-round Concat KDF with SHA-256 for a
// 256-bit output, written out here independently of the server's.
func concatKDF(z, algID, partyU, partyV []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0, 0, 0, 1})
	h.Write(z)
	for _, f := range [][]byte{algID, partyU, partyV} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		h.Write(f)
	}
	h.Write([]byte{0, 0, 1, 0})
	return h.Sum(nil)
}
