package report

import (
	"sort"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/keys"
)

// Key is one key of the registry as the report shows it.
type Key struct {
	Name, ARN, Description string
	Spec, Usage            string
	Backend, BackendType   string
	FIPS                   string
	State                  string
	Created, Rotated       time.Time // Rotated: the newest version's creation, zero for a key never rotated
	Due                    time.Time // the next rotation by cryptoperiod; zero when none is recorded
	Versions               []Version
	Policy                 string
	// Own is keygated's own key: no principal may use or change it,
	// whatever Policy says (policy.OwnKeyReads are the exceptions).
	Own bool
}

// Version is one version of a key.
type Version struct {
	Number       uint32
	State        string
	BackendKeyID string
	Created      time.Time
	// Origin is GENERATED, ADOPTED or EXTERNAL ("" if not recorded), and
	// Token a PKCS#11 version's origin attributes (nil if none recorded).
	Origin string
	Token  *keys.TokenAttrs
}

// originText names a version's origin for the pack; a version recorded
// before keygate kept origins says so rather than passing for generated.
func originText(o string) string {
	if o == "" {
		return "NOT-RECORDED"
	}
	return o
}

// Verification is the audit log's verification when the pack was made.
type Verification struct {
	OK                     bool
	Events                 uint64
	Checkpoints            uint64
	HeadSeq                uint64
	HeadHash               string
	Protected, Unprotected uint64
	Problems               []string
	KeyID                  string // the checkpoint key's fingerprint: hex SHA-256 of its PKIX DER
	PublicKeyPEM           string
}

// Input is what the report is about, besides the events.
type Input struct {
	Since, Until, Generated time.Time
	Keys                    []Key
	Callers                 []string // the configured principals
	Admins, Auditors        []string
	Verify                  Verification
	Recon                   *reconcile.Report // nil when no CloudTrail source was given
}

// UsageRow counts calls of one principal with one action on one key.
type UsageRow struct {
	Key, Principal, Action string
	OK, Failed             int
}

// EventRow is one denial or change.
type EventRow struct {
	Seq                       uint64
	Time                      time.Time
	Kind, Principal, Action   string
	Key                       string
	Version                   uint32
	Result, Decision, Sid     string
	Detail, Error, Peer, Cert string
}

// KMSRow counts keygate's KMS requests of one operation on one key, with
// their cost at list price.
type KMSRow struct {
	Key, Spec, Operation string
	Requests             int
	PricePer10k          float64
	Cost                 float64
}

// Builder aggregates the window's audit events as they stream past.
type Builder struct {
	in      Input
	days    []time.Time
	usage   map[[3]string]*UsageRow
	perDay  map[string][]int
	denials []EventRow
	changes []EventRow
	kms     map[[2]string]int
	calls   int
}

// maxDays bounds the per-day chart (a year and a bit).
const maxDays = 400

// NewBuilder starts a report over in's window.
func NewBuilder(in Input) *Builder {
	b := &Builder{in: in, usage: map[[3]string]*UsageRow{}, perDay: map[string][]int{}, kms: map[[2]string]int{}}
	for d := in.Since.UTC().Truncate(24 * time.Hour); d.Before(in.Until) && len(b.days) < maxDays; d = d.Add(24 * time.Hour) {
		b.days = append(b.days, d)
	}
	return b
}

// Add takes one event of the window.
func (b *Builder) Add(e *audit.Event) {
	row := EventRow{Seq: e.Seq, Time: e.Time.UTC(), Kind: string(e.Kind), Principal: e.Principal, Action: e.Action, Key: e.KeyName,
		Version: e.KeyVersion, Result: e.Result, Decision: e.Decision, Sid: e.Sid, Detail: e.Detail, Error: e.Error, Peer: e.Peer, Cert: e.CertSubject}
	if e.Result == "PermissionDenied" || e.Decision == "Deny" || e.Decision == "ImplicitDeny" {
		b.denials = append(b.denials, row)
	}
	switch e.Kind {
	case audit.KindCall:
		b.calls++
		k := [3]string{e.KeyName, e.Principal, e.Action}
		u := b.usage[k]
		if u == nil {
			u = &UsageRow{Key: e.KeyName, Principal: e.Principal, Action: e.Action}
			b.usage[k] = u
		}
		if e.Result == audit.ResultOK {
			u.OK++
		} else {
			u.Failed++
		}
		if e.KeyName != "" && len(b.days) > 0 {
			i := int(e.Time.UTC().Sub(b.days[0]) / (24 * time.Hour))
			if i >= 0 && i < len(b.days) {
				if b.perDay[e.KeyName] == nil {
					b.perDay[e.KeyName] = make([]int, len(b.days))
				}
				b.perDay[e.KeyName][i]++
			}
		}
	case audit.KindAuditRead:
	default:
		if e.Result != "PermissionDenied" { // a refused change is a denial, listed there
			b.changes = append(b.changes, row)
		}
	}
	if e.BackendRequestID != "" {
		b.kms[[2]string{e.KeyName, strings.TrimPrefix(e.Action, "kms:")}]++
	}
}

// Data is the finished report.
type Data struct {
	Input
	Calls   int
	Days    []time.Time
	PerDay  map[string][]int
	Usage   []UsageRow
	Denials []EventRow
	Changes []EventRow
	KMS     []KMSRow
	KMSCost float64
	// KeyMonths is the KMS key storage charge: key versions × months of the window.
	KeyStorageCost float64
	Access         []AccessRow
}

// Data finishes the aggregation.
func (b *Builder) Data() *Data {
	d := &Data{Input: b.in, Calls: b.calls, Days: b.days, PerDay: b.perDay, Denials: b.denials, Changes: b.changes}
	for _, u := range b.usage {
		d.Usage = append(d.Usage, *u)
	}
	sort.Slice(d.Usage, func(i, j int) bool {
		a, c := d.Usage[i], d.Usage[j]
		return a.Key < c.Key || a.Key == c.Key && (a.Principal < c.Principal || a.Principal == c.Principal && a.Action < c.Action)
	})
	specs := map[string]string{}
	kmsVersions := 0
	for _, k := range b.in.Keys {
		specs[k.Name] = k.Spec
		if k.BackendType == "kms" {
			kmsVersions += len(k.Versions)
		}
	}
	for k, n := range b.kms {
		p := pricePer10k(specs[k[0]])
		r := KMSRow{Key: k[0], Spec: specs[k[0]], Operation: k[1], Requests: n, PricePer10k: p, Cost: float64(n) / 10000 * p}
		d.KMS = append(d.KMS, r)
		d.KMSCost += r.Cost
	}
	sort.Slice(d.KMS, func(i, j int) bool {
		return d.KMS[i].Key < d.KMS[j].Key || d.KMS[i].Key == d.KMS[j].Key && d.KMS[i].Operation < d.KMS[j].Operation
	})
	months := b.in.Until.Sub(b.in.Since).Hours() / 730 // AWS bills key storage by the hour, 730 hours a month
	d.KeyStorageCost = float64(kmsVersions) * 1.0 * months
	d.Access = accessMatrix(b.in)
	return d
}

// pricePer10k is AWS KMS's list price per 10,000 requests (us-east-1,
// before the free tier): symmetric, HMAC and RSA 2048 keys $0.03; other
// asymmetric keys $0.15.
func pricePer10k(spec string) float64 {
	switch {
	case spec == "" || spec == "SYMMETRIC_DEFAULT" || strings.HasPrefix(spec, "HMAC_") || spec == "RSA_2048":
		return 0.03
	}
	return 0.15
}
