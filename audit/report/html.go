package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/keygate/keygate/audit/reconcile"
)

// WriteHTML renders index.html: one file, no scripts, no external styles,
// fonts or images (the Content-Security-Policy forbids them), readable on
// screen and printed.
func WriteHTML(w io.Writer, d *Data) error {
	return page.Execute(w, d)
}

var page = template.Must(template.New("index").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"overdue": func(d *Data, k Key) bool { return !k.Due.IsZero() && k.Due.Before(d.Generated) },
	"usd":     func(f float64) string { return fmt.Sprintf("$%.4f", f) },
	"dash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
	"chart":  chart,
	"origin": originHTML,
	"total": func(v []int) int {
		n := 0
		for _, x := range v {
			n += x
		}
		return n
	},
	"join":    strings.Join,
	"classes": func() []reconcile.Class { return reconcile.Classes },
	"count":   func(r *reconcile.Report, c reconcile.Class) int { return r.Counts[c] },
	"finding": func(c reconcile.Class) bool { return c.IsFinding() },
	"access":  accessFor,
	"acts":    actionsFor,
	"verdict": func(r AccessRow) string {
		switch r.Verdict {
		case Allowed:
			return "allow"
		case Conditional:
			return "if " + strings.Join(r.Conditions, ", ")
		case Denied:
			if r.Sid == "keygate:OwnKey" {
				return "DENY (keygated's own key)"
			}
			return "DENY"
		}
		return "·"
	},
}).Parse(pageHTML))

// originHTML is a version's origin and PKCS#11 attributes; what tells of
// material that came from outside, or could once leave, is marked.
func originHTML(v Version) template.HTML {
	var b strings.Builder
	o := originText(v.Origin)
	if v.Origin == "GENERATED" {
		b.WriteString(template.HTMLEscapeString(o))
	} else {
		fmt.Fprintf(&b, `<span class="bad">%s</span>`, template.HTMLEscapeString(o))
	}
	if t := v.Token; t != nil {
		for _, a := range []struct {
			name string
			on   bool
		}{{"CKA_LOCAL", t.Local}, {"CKA_NEVER_EXTRACTABLE", t.NeverExtractable}, {"CKA_ALWAYS_SENSITIVE", t.AlwaysSensitive}} {
			if a.on {
				fmt.Fprintf(&b, ` <span class="attr">%s=true</span>`, a.name)
			} else {
				fmt.Fprintf(&b, ` <span class="attr bad">%s=false</span>`, a.name)
			}
		}
	}
	return template.HTML(b.String())
}

// accessFor is one key's rows of the matrix, by principal then action.
func accessFor(d *Data, key string) map[string]map[string]AccessRow {
	out := map[string]map[string]AccessRow{}
	for _, r := range d.Access {
		if r.Key != key {
			continue
		}
		if out[r.Principal] == nil {
			out[r.Principal] = map[string]AccessRow{}
		}
		out[r.Principal][r.Action] = r
	}
	return out
}

// chart is a small inline SVG bar chart of calls per day.
func chart(v []int) template.HTML {
	const h = 48
	if len(v) == 0 {
		return ""
	}
	w := min(360, 14*len(v)+40) // a short window keeps narrow bars
	max := 1
	for _, x := range v {
		max = maxInt(max, x)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="calls per day, peak %d">`, w, h+12, w, h+12, max)
	fw := float64(w - 40)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-width="1"/>`, h, w, h)
	bw := fw / float64(len(v))
	for i, x := range v {
		bh := float64(x) / float64(max) * float64(h-2)
		if x > 0 && bh < 1 {
			bh = 1
		}
		fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#2f6f9f"/>`, float64(i)*bw, float64(h)-bh, maxF(bw-0.5, 0.5), bh)
	}
	fmt.Fprintf(&b, `<text x="0" y="%d" font-size="9" fill="#555">peak %d/day</text></svg>`, h+11, max)
	return template.HTML(b.String())
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func maxF(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>keygate evidence pack {{day .Since}} to {{day .Until}}</title>
<style>
body{font:13px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#111;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px;border-bottom:2px solid #2f6f9f;padding-bottom:2px}
.req{color:#2f6f9f;font-size:12px;margin:0 0 8px}.muted{color:#666}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eef3f7}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.principal{min-width:17em;word-break:break-all}
.bad{color:#b00020;font-weight:600}.ok{color:#1b6e20;font-weight:600}
.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;word-break:break-all}
pre{white-space:pre-wrap;font-size:11px;background:#f6f6f6;padding:6px;border:1px solid #ddd}
.summary td{border:none;padding:1px 12px 1px 0}
.chart{display:block}
td.versions{min-width:21em}td.versions div+div{margin-top:4px}.attr{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:10.5px;white-space:nowrap}
.cell-allow{background:#e6f4e6}.cell-cond{background:#fff6d6}.cell-deny{background:#fde0e0}
nav ol{columns:2;margin:6px 0 0}
@page{size:A4;margin:14mm}
@media print{body{margin:0;max-width:none;font-size:10.5px}nav{display:none}h2{break-after:avoid}tr{break-inside:avoid}thead{display:table-header-group}details{display:none}}
</style></head><body>
<h1>keygate evidence pack</h1>
<table class="summary">
<tr><td>Window</td><td>{{ts .Since}} to {{ts .Until}}</td></tr>
<tr><td>Generated</td><td>{{ts .Generated}}</td></tr>
<tr><td>Audit log</td><td>{{if .Verify.OK}}<span class="ok">intact</span>{{else}}<span class="bad">BROKEN</span>{{end}}: {{.Verify.Events}} events, head seq {{.Verify.HeadSeq}}</td></tr>
<tr><td>Calls in window</td><td>{{.Calls}} ({{len .Denials}} denied)</td></tr>
<tr><td>CloudTrail</td><td>{{if .Recon}}{{if .Recon.Failed}}<span class="bad">findings</span>{{else}}<span class="ok">reconciled, no finding</span>{{end}}{{else}}not reconciled in this pack{{end}}</td></tr>
</table>
<nav><ol>
<li><a href="#inventory">Key inventory</a></li><li><a href="#access">Access matrix</a></li><li><a href="#usage">Key usage</a></li>
<li><a href="#denials">Denials</a></li><li><a href="#changes">Lifecycle and policy changes</a></li><li><a href="#verification">Audit log verification</a></li>
<li><a href="#reconciliation">CloudTrail reconciliation</a></li><li><a href="#kms">KMS requests and cost</a></li></ol></nav>

<section id="inventory"><h2>1. Key inventory</h2>
<p class="req">PCI DSS v4.0 3.6.1, 3.7.1–3.7.5 (key generation, storage, cryptoperiods, retirement); PCI 3DS Core Security Standard, cryptographic key management</p>
<p class="muted">Origin: GENERATED in its backend by keygate; ADOPTED, an existing backend key taken over; EXTERNAL, imported key material; NOT-RECORDED, a version recorded before keygate kept origins. For PKCS#11 the token's own record: CKA_LOCAL=false means the key was loaded into the token, not generated there; CKA_NEVER_EXTRACTABLE or CKA_ALWAYS_SENSITIVE false, that it could once leave it.</p>
<table><thead><tr><th>Key</th><th>Spec / usage</th><th>Backend (FIPS 140)</th><th>State</th><th>Versions: state, origin, PKCS#11 attributes</th><th>Created</th><th>Rotated</th><th>Rotation due</th></tr></thead><tbody>
{{range .Keys}}<tr><td><b>{{.Name}}</b><div class="mono muted">{{.ARN}}</div></td><td>{{.Spec}}<br>{{.Usage}}</td><td>{{.Backend}} ({{.BackendType}})<br><span class="muted">{{.FIPS}}</span></td><td>{{.State}}</td>
<td class="versions">{{range .Versions}}<div>v{{.Number}} {{.State}} <span class="muted">{{day .Created}}</span> {{origin .}}</div>{{end}}</td><td>{{day .Created}}</td><td>{{if .Rotated.IsZero}}<span class="muted">never</span>{{else}}{{day .Rotated}}{{end}}</td>
<td>{{if overdue $ .}}<span class="bad">OVERDUE {{day .Due}}</span>{{else if .Due.IsZero}}<span class="muted">no cryptoperiod recorded</span>{{else}}{{day .Due}}{{end}}</td></tr>
{{end}}</tbody></table></section>

<section id="access"><h2>2. Access matrix</h2>
<p class="req">PCI DSS v4.0 7.2.1, 7.2.2, 7.2.5 (access by least privilege, defined per role); 3.6.1.2 (access to keys restricted to the fewest custodians)</p>
<p class="muted">Computed from each key's policy for every configured principal (callers, admins, auditors). <i>allow</i>: the policy allows it; <i>if …</i>: an Allow statement applies when the named conditions hold (an encryption context, an algorithm); <i>DENY</i>: an explicit Deny, or keygated's own key; <i>·</i>: not allowed. The policy text is under each table.</p>
{{range $k := .Keys}}{{if $k.Policy}}{{$m := access $ $k.Name}}<h3>{{$k.Name}}</h3>{{if $k.Own}}<p class="muted">keygated's own key: whatever its policy says, no principal may use or change it; the policy can only let them read it.</p>{{end}}
<table><thead><tr><th>Principal</th>{{range acts $k.Usage}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range $p, $row := $m}}<tr><td class="mono principal">{{$p}}</td>{{range $a := acts $k.Usage}}{{$c := index $row $a}}<td class="{{if eq $c.Verdict "allow"}}cell-allow{{else if eq $c.Verdict "conditional"}}cell-cond{{else if eq $c.Verdict "deny"}}cell-deny{{end}}">{{verdict $c}}</td>{{end}}</tr>
{{end}}</tbody></table>
<details><summary>Policy of {{$k.Name}}</summary><pre>{{$k.Policy}}</pre></details>{{end}}{{end}}</section>

<section id="usage"><h2>3. Key usage</h2>
<p class="req">PCI DSS v4.0 10.2.1, 10.2.2 (every use of a key logged, with who, what, when, outcome); 10.4.1 (log review)</p>
{{range $k := .Keys}}{{$v := index $.PerDay $k.Name}}{{if $v}}<h3>{{$k.Name}}: {{total $v}} calls</h3>{{chart $v}}{{end}}{{end}}
<table><thead><tr><th>Key</th><th>Principal</th><th>Operation</th><th>OK</th><th>Failed</th></tr></thead><tbody>
{{range .Usage}}<tr><td>{{dash .Key}}</td><td class="mono">{{dash .Principal}}</td><td>{{.Action}}</td><td class="n">{{.OK}}</td><td class="n">{{.Failed}}</td></tr>
{{else}}<tr><td colspan="5">No calls in the window.</td></tr>{{end}}</tbody></table></section>

<section id="denials"><h2>4. Denials</h2>
<p class="req">PCI DSS v4.0 10.2.1.4 (invalid logical access attempts), 10.4.1</p>
<table><thead><tr><th>Seq</th><th>Time</th><th>Principal</th><th>Action</th><th>Key</th><th>Decision</th><th>Error</th></tr></thead><tbody>
{{range .Denials}}<tr><td class="n">{{.Seq}}</td><td>{{ts .Time}}</td><td class="mono">{{dash .Principal}}</td><td>{{.Action}}</td><td>{{dash .Key}}</td><td>{{dash .Decision}}</td><td>{{.Error}}</td></tr>
{{else}}<tr><td colspan="7">No denial in the window.</td></tr>{{end}}</tbody></table></section>

<section id="changes"><h2>5. Lifecycle and policy changes</h2>
<p class="req">PCI DSS v4.0 10.2.1.2 (administrative actions), 3.7.4, 3.7.5 (rotation, retirement), 3.7.6 (dual control), 6.5.1 (change control)</p>
<p class="muted">Every administrative event in the window, whatever its kind, with who did it; approvals are events of their own and appear here with their approver.</p>
<table><thead><tr><th>Seq</th><th>Time</th><th>Change</th><th>Key</th><th>By</th><th>Result</th><th>Detail</th></tr></thead><tbody>
{{range .Changes}}<tr><td class="n">{{.Seq}}</td><td>{{ts .Time}}</td><td>{{.Kind}}<br><span class="muted">{{.Action}}</span></td><td>{{dash .Key}}{{if .Version}} v{{.Version}}{{end}}</td><td class="mono">{{dash .Principal}}</td><td>{{.Result}}</td><td>{{.Detail}}</td></tr>
{{else}}<tr><td colspan="7">No change in the window.</td></tr>{{end}}</tbody></table></section>

<section id="verification"><h2>6. Audit log verification</h2>
<p class="req">PCI DSS v4.0 10.3.2 (logs protected from modification), 10.3.4 (change detection), 10.5.1 (retention)</p>
<table class="summary">
<tr><td>Result</td><td>{{if .Verify.OK}}<span class="ok">intact</span>: the hash chain and every signed checkpoint verify{{else}}<span class="bad">BROKEN</span>{{end}}</td></tr>
<tr><td>Events, checkpoints</td><td>{{.Verify.Events}} events, {{.Verify.Checkpoints}} checkpoints</td></tr>
<tr><td>Head</td><td>seq {{.Verify.HeadSeq}}, hash <span class="mono">{{.Verify.HeadHash}}</span></td></tr>
<tr><td>Protected</td><td>signed checkpoints vouch for events up to seq {{.Verify.Protected}}; {{.Verify.Unprotected}} after it not yet covered</td></tr>
<tr><td>Checkpoint key fingerprint</td><td class="mono">SHA-256 {{.Verify.KeyID}}</td></tr>
</table>
{{range .Verify.Problems}}<p class="bad">{{.}}</p>{{end}}
<pre>{{.Verify.PublicKeyPEM}}</pre>
<p class="muted">Verify independently: <span class="mono">keygate audit verify --db keygate.db --checkpoint-key checkpoint-key.pem</span>; the format is specified in docs/AUDIT-FORMAT.md.</p></section>

<section id="reconciliation"><h2>7. CloudTrail reconciliation</h2>
<p class="req">PCI DSS v4.0 10.4.1, 10.7.2 (failures of critical controls detected); 7.2 (no use of a key around its policy)</p>
{{with .Recon}}<p>{{.Source}}, {{ts .Since}} to {{ts .Until}}: {{if .Failed}}<span class="bad">findings</span>{{else}}<span class="ok">no finding</span>{{end}}.</p>
<table><thead><tr><th>Class</th><th>Records</th></tr></thead><tbody>
{{$r := .}}{{range classes}}<tr><td>{{if finding .}}<b>{{.}}</b>{{else}}{{.}}{{end}}</td><td class="n">{{count $r .}}</td></tr>{{end}}</tbody></table>
{{if .Findings}}<table><thead><tr><th>Time</th><th>Class</th><th>Operation</th><th>Key</th><th>Caller</th><th>From</th><th>Reason</th></tr></thead><tbody>
{{range .Findings}}<tr><td>{{ts .Time}}</td><td class="bad">{{.Class}}</td><td>{{.Operation}}</td><td>{{dash .KeyName}}</td><td class="mono">{{dash .Identity}}{{if .UserAgent}}<br><span class="muted">{{.UserAgent}}</span>{{end}}</td><td>{{dash .SourceIP}} {{.VPCEndpointID}}</td><td>{{.Reason}}{{if .RequestID}}<br><span class="mono muted">request {{.RequestID}}</span>{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{range .NoCloudTrail}}<p>{{.Name}} ({{.Backend}}): PKCS#11, no CloudTrail; {{.Calls}} calls audited by keygate only.</p>{{end}}
{{else}}<p>Not reconciled in this pack: run <span class="mono">keygate report</span> with <span class="mono">--lookup</span>, <span class="mono">--trail-dir</span> or <span class="mono">--trail-s3</span>.</p>{{end}}</section>

<section id="kms"><h2>8. KMS requests and cost</h2>
<p class="req">Informational: AWS KMS bills per request and per key-month, not per HSM-hour</p>
<table><thead><tr><th>Key</th><th>Spec</th><th>Operation</th><th>Requests</th><th>List price / 10,000</th><th>Cost</th></tr></thead><tbody>
{{range .KMS}}<tr><td>{{.Key}}</td><td>{{.Spec}}</td><td>{{.Operation}}</td><td class="n">{{.Requests}}</td><td class="n">{{usd .PricePer10k}}</td><td class="n">{{usd .Cost}}</td></tr>
{{else}}<tr><td colspan="6">No KMS request in the window.</td></tr>{{end}}
<tr><td colspan="5"><b>Requests</b></td><td class="n"><b>{{usd .KMSCost}}</b></td></tr>
<tr><td colspan="5">Key storage ($1 per KMS key version per month, over the window)</td><td class="n">{{usd .KeyStorageCost}}</td></tr></tbody></table>
<p class="muted">List prices (us-east-1): $0.03 per 10,000 requests on symmetric, HMAC and RSA 2048 keys, $0.15 on other asymmetric keys; before the 20,000 free requests a month. Requests keygate made; CloudTrail also counts calls made around keygate (section 7).</p></section>
</body></html>
`
