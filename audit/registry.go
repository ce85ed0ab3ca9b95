package audit

import (
	"context"
	"fmt"
	"strings"
)

// registryMark introduces, at the end of an administrative event's Detail,
// the digest of the key row the change committed (keys.RowDigest).
const registryMark = "; registry "

// RegistryDetail appends the key row's digest to an event's detail.
func RegistryDetail(detail, digest string) string { return detail + registryMark + digest }

// RegistryDigest returns the key-row digest an event's detail records, or "".
func RegistryDigest(detail string) string {
	i := strings.LastIndex(detail, registryMark)
	if i < 0 {
		return ""
	}
	return detail[i+len(registryMark):]
}

// LastRegistryDigest returns the key-row digest that the newest successful
// administrative event for key recorded, and that event's seq; "" when the
// chain holds none (a key created behind keygate's back, or one whose
// events were all pruned). It reads the key's events newest first, so its
// cost grows with the key's calls since its last change: callers cache it.
func LastRegistryDigest(ctx context.Context, st Store, key string) (string, uint64, error) {
	q := Query{KeyName: key, Desc: true, Limit: MaxLimit}
	for {
		recs, err := st.Records(ctx, q)
		if err != nil {
			return "", 0, err
		}
		for _, r := range recs {
			if r.Result != ResultOK {
				continue
			}
			e, err := Decode(r.Body)
			if err != nil {
				return "", 0, fmt.Errorf("audit event %d: %w", r.Seq, err)
			}
			if d := RegistryDigest(e.Detail); d != "" {
				return d, r.Seq, nil
			}
		}
		if len(recs) < q.Limit {
			return "", 0, nil
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
}
