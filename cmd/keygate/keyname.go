package main

import (
	"flag"
	"slices"
	"strings"
)

// keyNameFlags let a verb take its key NAME as a positional argument, as
// --key NAME (the issues' spelling) or as --key-id NAME (KMS's). Declaring
// --key on the verb shadows the global --key (the client key file) after
// the verb only; see helpText for the rule.
type keyNameFlags struct{ key, keyID *string }

func keyNameVar(fs *flag.FlagSet, what string) *keyNameFlags {
	return &keyNameFlags{
		key:   fs.String("key", "", what+" NAME, instead of the positional NAME (here not the client key file)"),
		keyID: fs.String("key-id", "", "the same as --key"),
	}
}

// name returns the one key name given; the same name given twice is fine,
// two different ones or none is a usage error.
func (k *keyNameFlags) name(args []string) (string, error) {
	var names []string
	for _, n := range append(append([]string{}, args...), *k.key, *k.keyID) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch len(names) {
	case 0:
		return "", usageErr("the key NAME is required: as an argument, --key NAME or --key-id NAME")
	case 1:
		return names[0], nil
	}
	return "", usageErr("two key names given (%s): give one", strings.Join(names, ", "))
}
