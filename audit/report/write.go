package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/internal/kgerr"
)

// Signer signs a manifest with the audit checkpoint key (the server's
// AuditService.SignReportManifest): the DER signature over
// ManifestDigest(manifest), and the key's id.
type Signer func(ctx context.Context, manifest []byte) (sig []byte, keyID string, err error)

// Write makes the pack in dir: index.html, the CSV files, manifest.json
// and its signature. It builds the pack beside dir and moves it into place
// only when whole, so a failed run leaves no pack that looks complete. An
// existing dir must be empty, or with force hold only a previous pack.
func Write(ctx context.Context, dir string, d *Data, sign Signer, force bool) error {
	if err := checkOut(dir, force); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), "."+filepath.Base(dir)+".partial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var names []string
	put := func(name string, b []byte) error {
		names = append(names, name)
		return os.WriteFile(filepath.Join(tmp, name), b, 0o644)
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, d); err != nil {
		return err
	}
	if err := put("index.html", html.Bytes()); err != nil {
		return err
	}
	for name, rows := range csvTables(d) {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(rows); err != nil {
			return err
		}
		if err := put(name, b.Bytes()); err != nil {
			return err
		}
	}
	if d.Verify.PublicKeyPEM != "" {
		if err := put("checkpoint-key.pem", []byte(d.Verify.PublicKeyPEM)); err != nil {
			return err
		}
	}
	m := Manifest{Format: ManifestFormat, Generated: d.Generated.UTC(), Since: d.Since.UTC(), Until: d.Until.UTC(), KeyID: d.Verify.KeyID}
	m.AuditHead.Seq, m.AuditHead.Hash, m.AuditHead.Protected = d.Verify.HeadSeq, d.Verify.HeadHash, d.Verify.Protected
	if m.Files, err = manifestFiles(tmp, names); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	sig, keyID, err := sign(ctx, raw)
	if err != nil {
		return fmt.Errorf("signing the manifest: %w", err)
	}
	if keyID != m.KeyID {
		return fmt.Errorf("the manifest was signed by key %s, not the checkpoint key %s", keyID, m.KeyID)
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestName), raw, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, SignatureName), sig, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil { // checkOut allowed it: empty, or a previous pack with --force
		return err
	}
	return os.Rename(tmp, dir)
}

// checkOut refuses an output directory that exists and is not empty,
// unless force is set and it holds only a previous pack's files.
func checkOut(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return kgerr.Errorf(kgerr.InvalidArgument, "out %s: %v", dir, err)
	}
	if len(ents) == 0 {
		return nil
	}
	if !force {
		return kgerr.Errorf(kgerr.InvalidArgument, "out %s exists and is not empty (--force replaces a previous pack)", dir)
	}
	for _, e := range ents {
		if !packFile(e.Name()) || e.IsDir() {
			return kgerr.Errorf(kgerr.InvalidArgument, "out %s holds %s, which is not part of an evidence pack: refused even with --force", dir, e.Name())
		}
	}
	return nil
}

func packFile(name string) bool {
	switch name {
	case "index.html", ManifestName, SignatureName, "checkpoint-key.pem":
		return true
	}
	_, ok := csvNames[name]
	return ok
}

var csvNames = map[string]bool{"keys.csv": true, "access.csv": true, "usage.csv": true, "denials.csv": true,
	"changes.csv": true, "reconciliation.csv": true, "kms-requests.csv": true}

// csvTables are the pack's CSV files, each with a header row.
func csvTables(d *Data) map[string][][]string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	out := map[string][][]string{}
	keys := [][]string{{"name", "arn", "spec", "usage", "backend", "backend_type", "fips_level", "state", "created", "rotated", "rotation_due", "versions", "origins"}}
	for _, k := range d.Keys {
		var vs, origins []string
		for _, v := range k.Versions {
			vs = append(vs, fmt.Sprintf("v%d %s %s", v.Number, v.State, v.BackendKeyID))
			origins = append(origins, strings.TrimSpace(fmt.Sprintf("v%d %s %s", v.Number, originText(v.Origin), v.Token)))
		}
		keys = append(keys, []string{k.Name, k.ARN, k.Spec, k.Usage, k.Backend, k.BackendType, k.FIPS, k.State, ts(k.Created), ts(k.Rotated), ts(k.Due),
			strings.Join(vs, "; "), strings.Join(origins, "; ")})
	}
	out["keys.csv"] = keys
	access := [][]string{{"key", "principal", "action", "verdict", "sid", "conditions"}}
	for _, r := range d.Access {
		v := r.Verdict
		if v == NotAllowed {
			v = "not-allowed"
		}
		access = append(access, []string{r.Key, r.Principal, r.Action, v, r.Sid, strings.Join(r.Conditions, "; ")})
	}
	out["access.csv"] = access
	usage := [][]string{{"key", "principal", "action", "ok", "failed"}}
	for _, r := range d.Usage {
		usage = append(usage, []string{r.Key, r.Principal, r.Action, strconv.Itoa(r.OK), strconv.Itoa(r.Failed)})
	}
	out["usage.csv"] = usage
	for name, rows := range map[string][]EventRow{"denials.csv": d.Denials, "changes.csv": d.Changes} {
		t := [][]string{{"seq", "time", "kind", "principal", "action", "key", "version", "result", "decision", "sid", "error", "detail"}}
		for _, r := range rows {
			t = append(t, []string{u(r.Seq), ts(r.Time), r.Kind, r.Principal, r.Action, r.Key, u(uint64(r.Version)), r.Result, r.Decision, r.Sid, r.Error, r.Detail})
		}
		out[name] = t
	}
	recon := [][]string{{"class", "time", "operation", "key_name", "key_arn", "request_id", "event_id", "seq", "identity", "source_ip", "vpc_endpoint_id", "user_agent", "reason"}}
	if d.Recon != nil {
		for _, l := range [][]reconcile.Finding{d.Recon.Findings, d.Recon.Pending, d.Recon.Unmanaged} {
			for _, f := range l {
				recon = append(recon, []string{string(f.Class), ts(f.Time), f.Operation, f.KeyName, f.KeyARN, f.RequestID, f.EventID, u(f.Seq),
					f.Identity, f.SourceIP, f.VPCEndpointID, f.UserAgent, f.Reason})
			}
		}
	}
	out["reconciliation.csv"] = recon
	kms := [][]string{{"key", "spec", "operation", "requests", "price_per_10000_usd", "cost_usd"}}
	for _, r := range d.KMS {
		kms = append(kms, []string{r.Key, r.Spec, r.Operation, strconv.Itoa(r.Requests), fmt.Sprintf("%.2f", r.PricePer10k), fmt.Sprintf("%.6f", r.Cost)})
	}
	out["kms-requests.csv"] = kms
	return out
}
