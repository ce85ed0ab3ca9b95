package policy

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// condition is one (operator, key, values) triple of a Condition block,
// with its values parsed once at compile time.
type condition struct {
	opName, keyName string // as written, for explanations and diffs
	op              opSpec
	key             condKey
	strs            []string // String*, Arn*, Bool; Binary decoded
	nums            []float64
	times           []time.Time
	nets            []netip.Prefix
	nulls           []bool // Null: true means "the key must be absent"
}

// compileValues parses the policy values for the operator's family.
func (c *condition) compileValues(vals []string) error {
	for _, v := range vals {
		switch c.op.def.fam {
		case famString, famArn:
			c.strs = append(c.strs, v)
		case famBool, famNull:
			l := strings.ToLower(v)
			if l != "true" && l != "false" {
				return fmt.Errorf("value %q is not true or false", v)
			}
			c.strs = append(c.strs, l)
			c.nulls = append(c.nulls, l == "true")
		case famBinary:
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return fmt.Errorf("value is not base64: %w", err)
			}
			c.strs = append(c.strs, string(b))
		case famNumeric:
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("value %q is not a number", v)
			}
			c.nums = append(c.nums, f)
		case famDate:
			t, ok := parseDate(v)
			if !ok {
				return fmt.Errorf("value %q is not an ISO 8601 date or epoch seconds", v)
			}
			c.times = append(c.times, t)
		case famIP:
			p, err := parsePrefix(v)
			if err != nil {
				return fmt.Errorf("value %q is not an IP address or CIDR", v)
			}
			c.nets = append(c.nets, p)
		}
	}
	return nil
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate accepts the forms IAM documents for Date operators: ISO 8601
// (with or without time and zone) and POSIX epoch seconds.
func parseDate(v string) (time.Time, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700",
		"2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// outcome is why a condition held or failed, for explanations.
type outcome int

const (
	outMatched outcome = iota
	outNoMatch
	outAbsent // key absent: true only for IfExists, negated or ForAllValues
)

// eval decides the condition for r.
func (c *condition) eval(r *Request) (bool, outcome) {
	if c.op.def.fam == famNull {
		_, present := c.key.str(r)
		for _, absent := range c.nulls {
			if absent != present {
				return true, outMatched
			}
		}
		return false, outNoMatch
	}
	v, present := c.key.str(r)
	if !present {
		switch {
		case c.op.ifExists, c.op.set == setAll:
			return true, outAbsent
		case c.op.set == setAny:
			return false, outAbsent
		}
		return c.op.def.negated, outAbsent
	}
	var ok bool
	if c.key.multi {
		ok = c.evalSet(r)
	} else {
		ok = c.match(r, v)
	}
	if ok {
		return true, outMatched
	}
	return false, outNoMatch
}

// evalSet applies the set qualifier to a multi-valued key. Validation
// refuses a multi-valued key without one (but for Null, which never gets
// here), so the fallback to ForAnyValue is never reached from a document.
func (c *condition) evalSet(r *Request) bool {
	if c.op.set == setAll {
		for name := range r.EncryptionContext {
			if !c.match(r, name) {
				return false
			}
		}
		return true
	}
	for name := range r.EncryptionContext {
		if c.match(r, name) {
			return true
		}
	}
	return false
}

// match compares one request value with the policy values: ORed for a
// positive operator, NORed for a negated one.
func (c *condition) match(r *Request, v string) bool {
	return c.anyEqual(r, v) != c.op.def.negated
}

func (c *condition) anyEqual(r *Request, v string) bool {
	d := c.op.def
	switch d.fam {
	case famString:
		for _, s := range c.strs {
			if (d.cmp == cmpEq && v == s) || (d.cmp == cmpEqFold && strings.EqualFold(v, s)) ||
				(d.cmp == cmpLike && wildMatch(s, v, false)) {
				return true
			}
		}
	case famArn:
		for _, s := range c.strs {
			if arnMatch(s, v) {
				return true
			}
		}
	case famBool:
		for _, s := range c.strs {
			if strings.EqualFold(v, s) {
				return true
			}
		}
	case famBinary:
		for _, s := range c.strs {
			if v == s {
				return true
			}
		}
	case famNumeric:
		x, err := c.number(r, v)
		if err != nil {
			return false
		}
		for _, n := range c.nums {
			if order(d.cmp, compareFloat(x, n)) {
				return true
			}
		}
	case famDate:
		t, ok := c.date(r, v)
		if !ok {
			return false
		}
		for _, p := range c.times {
			if order(d.cmp, t.Compare(p)) {
				return true
			}
		}
	case famIP:
		a := r.SourceIP
		if c.key.id != keySourceIP {
			var err error
			if a, err = netip.ParseAddr(v); err != nil {
				return false
			}
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (c *condition) number(r *Request, v string) (float64, error) {
	if c.key.id == keyEpochTime {
		return float64(r.CurrentTime.Unix()), nil
	}
	return strconv.ParseFloat(v, 64)
}

func (c *condition) date(r *Request, v string) (time.Time, bool) {
	if c.key.id == keyCurrentTime || c.key.id == keyEpochTime {
		return r.CurrentTime, true
	}
	return parseDate(v)
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order reports whether a comparison result c (-1, 0, 1) satisfies op.
func order(op cmp, c int) bool {
	switch op {
	case cmpLt:
		return c < 0
	case cmpLe:
		return c <= 0
	case cmpGt:
		return c > 0
	case cmpGe:
		return c >= 0
	}
	return c == 0
}
