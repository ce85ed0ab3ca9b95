package policy

import (
	"sort"
	"strings"
)

// compileConditions checks a Condition block and compiles it. Conditions
// are returned sorted by operator and key so that evaluation order, and
// explanations, do not depend on the document's member order.
func compileConditions(n *node, ps *problems) ([]condition, map[string]map[string][]string) {
	canon := map[string]map[string][]string{}
	if n.kind != kObject {
		ps.add("Condition", "must be an object of operators")
		return nil, canon
	}
	var out []condition
	for i, opName := range n.names {
		el := "Condition." + opName
		op, ok := parseOperator(opName)
		if !ok {
			ps.add(el, "unknown condition operator %q", opName)
			continue
		}
		block := n.vals[i]
		if block.kind != kObject || len(block.names) == 0 {
			ps.add(el, "must be a non-empty object of condition keys")
			continue
		}
		lowered := map[string]bool{}
		for j, keyName := range block.names {
			kel := el + "." + keyName
			key, ok := lookupKey(keyName)
			if !ok {
				ps.add(kel, "unknown condition key")
				continue
			}
			if lowered[strings.ToLower(keyName)] {
				ps.add(kel, "condition key repeated (keys are case-insensitive)")
				continue
			}
			lowered[strings.ToLower(keyName)] = true
			if !keyAllows(key, op.def.fam) {
				ps.add(kel, "operator %s cannot be used with this key", opName)
				continue
			}
			if key.multi && op.set == setNone && op.def.fam != famNull {
				// KMS: "Multivalued condition keys require a set operator."
				ps.add(kel, "%s is multivalued: say ForAnyValue:%s or ForAllValues:%s", keyName, opName, opName)
				continue
			}
			if op.set == setAll && key.id == keyEncryptionContext {
				// KMS refuses this (OverlyPermissiveCondition): ForAllValues on
				// a single-valued key matches requests without that context.
				ps.add(kel, "ForAllValues with a single-valued key matches requests without it; remove ForAllValues")
				continue
			}
			vals := conditionValues(block.vals[j], kel, ps)
			if vals == nil {
				continue
			}
			c := condition{opName: opName, keyName: keyName, op: op, key: key}
			if err := c.compileValues(vals); err != nil {
				ps.add(kel, "%v", err)
				continue
			}
			out = append(out, c)
			if canon[opName] == nil {
				canon[opName] = map[string][]string{}
			}
			canon[opName][strings.ToLower(keyName)] = vals
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].opName != out[b].opName {
			return out[a].opName < out[b].opName
		}
		return strings.ToLower(out[a].keyName) < strings.ToLower(out[b].keyName)
	})
	return out, canon
}

// conditionValues returns a condition's values as text. IAM accepts
// strings, numbers and booleans, alone or in an array.
func conditionValues(n *node, el string, ps *problems) []string {
	var items []*node
	switch n.kind {
	case kArray:
		if len(n.arr) == 0 {
			ps.add(el, "must not be an empty array")
			return nil
		}
		items = n.arr
	default:
		items = []*node{n}
	}
	out := make([]string, 0, len(items))
	for _, v := range items {
		s, ok := v.scalarText()
		if !ok {
			ps.add(el, "values must be strings, numbers or booleans, found %v", v.kind)
			return nil
		}
		if strings.Contains(s, "${") {
			ps.add(el, "policy variables (${...}) are not supported by keygate")
			return nil
		}
		out = append(out, s)
	}
	return out
}
