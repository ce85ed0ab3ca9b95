package backends

import (
	"bytes"
	"testing"
)

func TestContextAAD(t *testing.T) {
	if got := ContextAAD(nil); len(got) != 0 {
		t.Errorf("ContextAAD(nil) = %x, want empty", got)
	}
	if got := ContextAAD(map[string]string{}); len(got) != 0 {
		t.Errorf("ContextAAD({}) = %x, want empty", got)
	}
	a := ContextAAD(map[string]string{"b": "2", "a": "1"})
	want := []byte{0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 1, '1', 0, 0, 0, 1, 'b', 0, 0, 0, 1, '2'}
	if !bytes.Equal(a, want) {
		t.Errorf("ContextAAD = %x, want %x", a, want)
	}
	for i := 0; i < 20; i++ { // map order must not matter
		if b := ContextAAD(map[string]string{"a": "1", "b": "2"}); !bytes.Equal(a, b) {
			t.Fatalf("encoding depends on map order: %x vs %x", a, b)
		}
	}
	distinct := []map[string]string{
		{"a": "bc"}, {"ab": "c"}, {"a": "b", "c": ""}, {"a": ""}, {"": "a"},
	}
	seen := map[string]int{}
	for i, m := range distinct {
		k := string(ContextAAD(m))
		if j, dup := seen[k]; dup {
			t.Errorf("contexts %v and %v encode the same", distinct[j], m)
		}
		seen[k] = i
	}
}
