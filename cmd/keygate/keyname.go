package main

import (
	"flag"
	"slices"
	"strings"
)

// keyNameFlags let a verb take its key NAME as a positional argument or
// as --key-id NAME (KMS's spelling). --key NAME still works after these
// verbs, with a deprecation notice: before the verb, --key was the client
// key file, and a flag should mean one thing.
type keyNameFlags struct{ key, keyID *string }

func keyNameVar(fs *flag.FlagSet, what string) *keyNameFlags {
	return &keyNameFlags{
		key:   fs.String("key", "", "deprecated: use --key-id"),
		keyID: fs.String("key-id", "", what+" NAME, instead of the positional NAME"),
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
		return "", usageErr("the key NAME is required: as an argument or --key-id NAME")
	case 1:
		return names[0], nil
	}
	return "", usageErr("two key names given (%s): give one", strings.Join(names, ", "))
}
