package audit_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// docs/AUDIT-FORMAT.md is a specification for someone writing their own
// verifier. Its worked examples are generated here from the code, between
// <!-- BEGIN generated:NAME --> and <!-- END generated:NAME --> markers;
// this test fails when the document and the code disagree. Rewrite the
// examples after a format change with
//
//	go test ./audit -run TestFormatDoc -update-format-doc
//
// The annotations are this test's own reading of the format (a second
// implementation): a change to the format that the document does not
// describe fails here even after -update-format-doc, on purpose.
var updateFormatDoc = flag.Bool("update-format-doc", false, "rewrite the generated examples in docs/AUDIT-FORMAT.md")

const formatDoc = "../docs/AUDIT-FORMAT.md"

// The example's encryption context.
const docContextKey, docContextValue = "acsTransID", "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"

// docSigner is a fixed P-256 key (RFC 6979's example key) signing
// deterministically (RFC 6979 nonces: rand nil), so the examples are stable.
type docSigner struct{ k *ecdsa.PrivateKey }

func (s docSigner) Sign(_ context.Context, digest []byte) ([]byte, error) {
	return s.k.Sign(nil, digest, crypto.SHA256)
}
func (s docSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

func TestFormatDoc(t *testing.T) {
	d, _ := hex.DecodeString("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721")
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	sig := docSigner{k}
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	clock := t0
	store := openStore(t, filepath.Join(t.TempDir(), "audit.db"))
	l, err := audit.New(audit.Config{Store: store, Signer: sig, ContextSecret: secret, Replica: "keygated-a",
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	first := &audit.Event{Kind: audit.KindCall, Principal: "arn:aws:iam::111122223333:role/acs",
		CertSubject: "CN=acs", CertSerial: "01", CertURI: "spiffe://acme/acs", Peer: "10.0.0.7:51234",
		Action: "kms:Encrypt", KeyName: "data-key", KeyVersion: 1, BackendKeyID: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
		BackendRequestID: "5fd1c0a1-0000-4000-8000-000000000001", Algorithm: "SYMMETRIC_DEFAULT", Decision: "Allow", Sid: "AcsEncrypts",
		Result: audit.ResultOK, Latency: 1500 * time.Microsecond, Correlation: "req-42",
		Context: l.HashContext(map[string]string{docContextKey: docContextValue})}
	second := &audit.Event{Kind: audit.KindCall, Principal: "arn:aws:iam::111122223333:role/ds", CertSubject: "CN=ds",
		CertSerial: "02", Peer: "10.0.0.9:40000", Action: "kms:Sign", KeyName: "acs-signing", Decision: "ImplicitDeny",
		Result: "PermissionDenied", Error: "arn:aws:iam::111122223333:role/ds may not kms:Sign with key acs-signing", Latency: 80 * time.Microsecond}
	// A checkpoint after each event, so the example shows the checkpoints' chain.
	var cps []audit.Checkpoint
	for _, e := range []*audit.Event{first, second} {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Second)
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, cp)
	}
	cp := cps[1]
	if cps[0].Counter != 1 || cp.Counter != 2 || !bytes.Equal(cp.Prev[:], cps[0].Digest()) || cp.Seq != 2 {
		t.Fatalf("checkpoints %+v", cps)
	}
	recs, err := store.Records(ctx, audit.Query{Limit: 10})
	if err != nil || len(recs) != 2 {
		t.Fatal(recs, err)
	}
	v, _ := audit.NewVerifier(sig.Public())
	var archive bytes.Buffer
	if _, err := audit.Export(ctx, store, v, clock.Add(time.Hour), &archive); err != nil {
		t.Fatal(err)
	}

	if rep, _, err := audit.VerifyArchive(bytes.NewReader(archive.Bytes()), v); err != nil || !rep.OK() {
		t.Fatalf("the example archive does not verify: %v %v", rep, err)
	}
	blocks := map[string]string{
		"event":         eventBlock(t, recs[0].Body),
		"chain":         chainBlock(t, recs),
		"checkpoint":    checkpointBlock(t, sig, cp),
		"checkpoint-v1": checkpointV1Block(t, cps[0]),
		"archive":       "```json\n" + archive.String() + "```\n",
	}
	doc, err := os.ReadFile(formatDoc)
	if err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	for name, body := range blocks {
		re := regexp.MustCompile(`(?s)(<!-- BEGIN generated:` + name + ` -->\n).*?(<!-- END generated:` + name + ` -->)`)
		if !re.MatchString(got) {
			t.Fatalf("%s has no generated:%s block", formatDoc, name)
		}
		got = re.ReplaceAllLiteralString(got, "<!-- BEGIN generated:"+name+" -->\n"+body+"<!-- END generated:"+name+" -->")
	}
	if *updateFormatDoc {
		if err := os.WriteFile(formatDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(doc) {
		t.Fatalf("%s disagrees with the code: run go test ./audit -run TestFormatDoc -update-format-doc and review the diff", formatDoc)
	}
}

// field is one piece of an encoding, annotated.
type field struct {
	name string
	b    []byte
	val  string
}

// eventBlock annotates a version 1 event encoding field by field, reading
// it as the document specifies, and checks that nothing is left over.
func eventBlock(t *testing.T, enc []byte) string {
	var fs []field
	rest := enc
	take := func(name string, n int, show func([]byte) string) {
		if len(rest) < n {
			t.Fatalf("encoding ends inside %s", name)
		}
		fs = append(fs, field{name, rest[:n], show(rest[:n])})
		rest = rest[n:]
	}
	u := func(b []byte) string {
		var v uint64
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		return fmt.Sprint(v)
	}
	str := func(name string) {
		take(name+" (length)", 4, u)
		n := int(binary.BigEndian.Uint32(fs[len(fs)-1].b))
		take(name, n, func(b []byte) string { return fmt.Sprintf("%q", b) })
	}
	take("version", 1, u)
	take("seq", 8, u)
	take("prev hash", 32, func([]byte) string { return "(the previous event's hash; zero for event 1)" })
	take("time (Unix ns)", 8, func(b []byte) string {
		return time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC().Format(time.RFC3339Nano)
	})
	for _, n := range []string{"kind", "replica", "principal", "cert subject", "cert serial", "cert URI", "peer", "action", "key name"} {
		str(n)
	}
	take("key version", 4, u)
	for _, n := range []string{"backend key id", "backend request id", "algorithm", "decision", "sid", "result", "error"} {
		str(n)
	}
	take("latency (ns)", 8, u)
	take("context count", 4, u)
	for i := range int(binary.BigEndian.Uint32(fs[len(fs)-1].b)) {
		str(fmt.Sprintf("context[%d] key", i))
		take(fmt.Sprintf("context[%d] value HMAC", i), 32, func([]byte) string { return "(HMAC-SHA-256 of the value)" })
	}
	str("correlation id")
	str("detail")
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after detail: the document's layout is out of date", len(rest))
	}
	var b strings.Builder
	b.WriteString("```\n")
	for _, f := range fs {
		h := hex.EncodeToString(f.b)
		if h == "" {
			h = "(empty)"
		}
		for len(h) > 64 {
			fmt.Fprintf(&b, "%-64s\n", h[:64])
			h = h[64:]
		}
		fmt.Fprintf(&b, "%-64s  %s = %s\n", h, f.name, f.val)
	}
	sum := sha256.Sum256(enc)
	// The context value's HMAC, as section 1 specifies it.
	m := hmac.New(sha256.New, secret)
	m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(docContextKey))))
	m.Write([]byte(docContextKey + docContextValue))
	if !bytes.Contains(enc, m.Sum(nil)) {
		t.Fatal("the context value's HMAC is not HMAC-SHA-256(secret, u32 len(key) || key || value)")
	}
	fmt.Fprintf(&b, "```\n\nThe context value is `%s`; its HMAC above is HMAC-SHA-256 keyed with the %d ASCII bytes `%s`.\n", docContextValue, len(secret), secret)
	fmt.Fprintf(&b, "\nThe %d bytes above, in one piece:\n\n```\n%s\n```\n\nSHA-256, the event's hash: `%s`\n", len(enc), hex.EncodeToString(enc), hex.EncodeToString(sum[:]))
	return b.String()
}

func chainBlock(t *testing.T, recs []audit.Record) string {
	e2, err := audit.Decode(recs[1].Body)
	if err != nil {
		t.Fatal(err)
	}
	if e2.PrevHash != recs[0].Hash {
		t.Fatal("event 2 does not link to event 1")
	}
	return fmt.Sprintf("```\nevent 1 hash       %x\nevent 2 prev hash  %x\nevent 2 hash       %x\n```\n\nEvent 2, whole (%d bytes):\n\n```\n%x\n```\n",
		recs[0].Hash, e2.PrevHash, recs[1].Hash, len(recs[1].Body), recs[1].Body)
}

// checkpointBlock builds the checkpoint's signed bytes as the document
// specifies and checks they hash to the code's digest, that the signature
// verifies, and that openssl agrees.
func checkpointBlock(t *testing.T, sig docSigner, cp audit.Checkpoint) string {
	der, err := x509.MarshalPKIXPublicKey(sig.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	id := sha256.Sum256(der)
	if hex.EncodeToString(id[:]) != cp.KeyID {
		t.Fatalf("key id %s, want hex SHA-256 of the PKIX DER", cp.KeyID)
	}
	domain := []byte("keygate-audit-checkpoint-v2\x00")
	fs := []field{
		{"domain", domain, fmt.Sprintf("%q", domain)},
		{"counter", binary.BigEndian.AppendUint64(nil, cp.Counter), fmt.Sprint(cp.Counter)},
		{"prev", cp.Prev[:], "(digest of checkpoint #1)"},
		{"seq", binary.BigEndian.AppendUint64(nil, cp.Seq), fmt.Sprint(cp.Seq)},
		{"head", cp.Head[:], "(hash of event seq)"},
		{"time (Unix ns)", binary.BigEndian.AppendUint64(nil, uint64(cp.Time.UnixNano())), cp.Time.UTC().Format(time.RFC3339Nano)},
		{"key id (length)", binary.BigEndian.AppendUint32(nil, uint32(len(cp.KeyID))), fmt.Sprint(len(cp.KeyID))},
		{"key id", []byte(cp.KeyID), "(64 hex characters, ASCII)"},
	}
	var pre []byte
	for _, f := range fs {
		pre = append(pre, f.b...)
	}
	digest := sha256.Sum256(pre)
	if !bytes.Equal(pre, audit.EncodeCheckpoint(&cp)) || !bytes.Equal(digest[:], cp.Digest()) {
		t.Fatal("the checkpoint bytes the document specifies do not hash to Checkpoint.Digest(): update the Checkpoints section and this test")
	}
	v, _ := audit.NewVerifier(sig.Public())
	if !v.Check(&cp) {
		t.Fatal("the example checkpoint does not verify")
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"key.pem": pubPEM, "digest.bin": digest[:], "sig.der": cp.Signature} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := osexec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join(dir, "key.pem"),
		"-in", filepath.Join(dir, "digest.bin"), "-sigfile", filepath.Join(dir, "sig.der")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %v: %s", err, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The checkpoint key (PEM, as `keygate audit checkpoint-key` prints it):\n\n```\n%s```\n\nIts key id: `%s`\n\n", pubPEM, cp.KeyID)
	fmt.Fprintf(&b, "Checkpoint #1 (after event 1) has the digest `%x`. ", cp.Prev)
	b.WriteString("The signed bytes of checkpoint #2, at seq 2:\n\n```\n")
	for _, f := range fs {
		h := hex.EncodeToString(f.b)
		for len(h) > 64 {
			fmt.Fprintf(&b, "%-64s\n", h[:64])
			h = h[64:]
		}
		fmt.Fprintf(&b, "%-64s  %s = %s\n", h, f.name, f.val)
	}
	fmt.Fprintf(&b, "```\n\nDigest (SHA-256 of those bytes): `%x`\n\nSignature (ASN.1 DER ECDSA, here with RFC 6979 nonces; any valid signature verifies):\n\n```\n%x\n```\n", digest, cp.Signature)
	return b.String()
}

// checkpointV1Block shows the encoding of a checkpoint made before
// checkpoints chained (counter 0), which verifiers still accept.
func checkpointV1Block(t *testing.T, c audit.Checkpoint) string {
	c.Counter, c.Prev = 0, [32]byte{}
	domain := []byte("keygate-audit-checkpoint-v1\x00")
	fs := []field{
		{"domain", domain, fmt.Sprintf("%q", domain)},
		{"seq", binary.BigEndian.AppendUint64(nil, c.Seq), fmt.Sprint(c.Seq)},
		{"head", c.Head[:], "(hash of event seq)"},
		{"time (Unix ns)", binary.BigEndian.AppendUint64(nil, uint64(c.Time.UnixNano())), c.Time.UTC().Format(time.RFC3339Nano)},
		{"key id (length)", binary.BigEndian.AppendUint32(nil, uint32(len(c.KeyID))), fmt.Sprint(len(c.KeyID))},
		{"key id", []byte(c.KeyID), "(64 hex characters, ASCII)"},
	}
	var pre []byte
	for _, f := range fs {
		pre = append(pre, f.b...)
	}
	if !bytes.Equal(pre, audit.EncodeCheckpoint(&c)) {
		t.Fatal("the version 1 checkpoint bytes the document specifies differ from audit.EncodeCheckpoint: update the section and this test")
	}
	var b strings.Builder
	b.WriteString("```\n")
	for _, f := range fs {
		h := hex.EncodeToString(f.b)
		for len(h) > 64 {
			fmt.Fprintf(&b, "%-64s\n", h[:64])
			h = h[64:]
		}
		fmt.Fprintf(&b, "%-64s  %s = %s\n", h, f.name, f.val)
	}
	sum := sha256.Sum256(pre)
	fmt.Fprintf(&b, "```\n\nDigest: `%x`\n", sum)
	return b.String()
}
