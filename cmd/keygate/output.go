package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// printJSON prints m as indented JSON with proto field names and every
// field present (a false signature_valid must not vanish). Fields written
// to files are replaced by FIELD_file: PATH.
func (e *env) printJSON(m proto.Message, files map[string]string) error {
	obj, err := jsonObject(m, files)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", escapeJSON(out))
	return err
}

// printJSONLine prints m as one line of JSON, for streams.
func (e *env) printJSONLine(m proto.Message) error {
	obj, err := jsonObject(m, nil)
	if err != nil {
		return err
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", escapeJSON(out))
	return err
}

// jsonObject decodes protojson's output into a map: protojson's whitespace
// is deliberately unstable, and files replace fields here.
func jsonObject(m proto.Message, files map[string]string) (map[string]any, error) {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	for field, path := range files {
		delete(obj, field)
		obj[field+"_file"] = path
	}
	return obj, nil
}

// printKey shows one key for people: its metadata, then its versions.
func printKey(w io.Writer, k *pb.KeyMetadata) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, row := range [][2]string{
		{"Name", k.KeyId}, {"ARN", k.Arn}, {"Description", k.Description},
		{"Spec", k.KeySpec}, {"Usage", k.KeyUsage}, {"State", k.KeyState},
		{"Backend", k.Backend}, {"Created", when(k.CreateTime)},
		{"Primary version", fmt.Sprint(k.PrimaryVersion)},
		{"Rotation period", days(k.RotationPeriodInDays)}, {"Cryptoperiod", days(k.CryptoperiodDays)},
		{"Dual control", dash(strings.Join(k.DualControl, ", "))},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	tw.Flush()
	if len(k.Versions) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tBACKEND KEY ID\tBACKEND STATE\tCERTS\tCREATED\tAGE\tROTATION DUE\tDELETION")
	for _, v := range k.Versions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Version, v.State, dash(v.BackendKeyId),
			dash(v.BackendState), v.CertificateCount, when(v.CreateTime), age(v.CreateTime), dueText(v), when(v.DeletionTime))
	}
	tw.Flush()
	printOrigins(w, k.Versions)
}

// printOrigins shows where each version's material came from and, for
// PKCS#11, what the token says of it (- where the backend has no such
// attributes, KMS).
func printOrigins(w io.Writer, vs []*pb.KeyVersion) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tORIGIN\tCKA_LOCAL\tCKA_NEVER_EXTRACTABLE\tCKA_ALWAYS_SENSITIVE")
	for _, v := range vs {
		origin := v.Origin
		if origin == "" {
			origin = "NOT-RECORDED"
		}
		local, never, always := "-", "-", "-"
		if t := v.TokenAttributes; t != nil {
			local, never, always = fmt.Sprint(t.Local), fmt.Sprint(t.NeverExtractable), fmt.Sprint(t.AlwaysSensitive)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, origin, local, never, always)
	}
	tw.Flush()
}

// printKeys shows a key list as one table.
func printKeys(w io.Writer, ks []*pb.KeyMetadata) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSPEC\tUSAGE\tSTATE\tBACKEND\tPRIMARY\tCREATED\tPRIMARY AGE\tROTATION DUE")
	for _, k := range ks {
		p := primaryOf(k)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", k.KeyId, k.KeySpec, k.KeyUsage, k.KeyState,
			k.Backend, k.PrimaryVersion, when(k.CreateTime), age(p.GetCreateTime()), dueText(p))
	}
	tw.Flush()
}

// days shows a period in days, "-" for none.
func days(n uint32) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%dd", n)
}

// primaryOf is the key's primary version, or nil.
func primaryOf(k *pb.KeyMetadata) *pb.KeyVersion {
	for _, v := range k.Versions {
		if v.Version == k.PrimaryVersion && k.PrimaryVersion != 0 {
			return v
		}
	}
	return nil
}

// age is how long ago ts was, in whole days ("12d"), or hours under a day.
func age(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	d := time.Since(ts.AsTime())
	if d < 24*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// dueText is a version's rotation due date, marked OVERDUE when late.
func dueText(v *pb.KeyVersion) string {
	if v.GetRotationDueTime() == nil {
		return "-"
	}
	if v.Overdue {
		return when(v.RotationDueTime) + " OVERDUE"
	}
	return when(v.RotationDueTime)
}

func when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
