package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestLineOf(t *testing.T) {
	src := "push:\n  url: x\ncollectors:\n  flags:\n    a.b: 1\nremote_write:\n  - url: a\n  - url: b\n"
	root := mustNode(t, src)
	tests := map[string]int{
		"push": 1, "push.url": 2, "collectors.flags.a.b": 5, "remote_write[1].url": 8, "nosuch": 0, "push.nosuch": 1,
	}
	for path, want := range tests {
		if got := lineOf(root, path); got != want {
			t.Errorf("lineOf(%q) = %d, want %d", path, got, want)
		}
		whole := path != "nosuch" && path != "push.nosuch"
		if line, ok := keyLine(root, path); line != want || ok != whole {
			t.Errorf("keyLine(%q) = %d, %v; want %d, %v", path, line, ok, want, whole)
		}
	}
}

func mustNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// sample is a small configuration in the shape of hostpush's: nested
// sections, a list, typed values, and an item with a custom unmarshaler.
type sample struct {
	Server struct {
		URL     string        `yaml:"url"`
		Timeout time.Duration `yaml:"timeout"`
		Debug   bool          `yaml:"debug"`
	} `yaml:"server"`
	Items []item `yaml:"items"`
	Count int    `yaml:"count"`
}

type item struct {
	Name string `yaml:"name"`
}

type plainItem item

// UnmarshalYAML checks unknown keys itself, as yaml.v3 does not pass
// KnownFields on to custom unmarshalers.
func (it *item) UnmarshalYAML(n *yaml.Node) error {
	if err := CheckKnownFields(n, reflect.TypeFor[plainItem](), "items"); err != nil {
		return err
	}
	return n.Decode((*plainItem)(it))
}

func (s *sample) validate() error {
	var errs []error
	if s.Server.URL == "" {
		errs = append(errs, Errorf("server.url", "missing"))
	}
	if s.Count < 0 {
		errs = append(errs, Errorf("count", "%d is negative", s.Count))
	}
	for i, it := range s.Items {
		if it.Name == "" {
			errs = append(errs, Under(fmt.Sprintf("items[%d].", i), Errorf("name", "empty")))
		}
	}
	return errors.Join(errs...)
}

// TestYAMLv3Messages pins the yaml.v3 messages the rewriting depends on:
// if an upgrade changes them, this fails rather than the rewriting
// silently passing yaml.v3's own text through.
func TestYAMLv3Messages(t *testing.T) {
	tests := []struct {
		yaml    string
		line    string
		re      *regexp.Regexp
		capture []string
	}{
		{"server:\n  urll: x\n", "2", unknownRe, []string{"urll", "struct { URL string \"yaml:\\\"url\\\"\"; Timeout time.Duration \"yaml:\\\"timeout\\\"\"; Debug bool \"yaml:\\\"debug\\\"\" }"}},
		{"server:\n  timeout: 5x\n", "2", castRe, []string{"str", "5x", "time.Duration"}},
		{"server:\n  debug: maybe\n", "2", castRe, []string{"str", "maybe", "bool"}},
		{"count: many\n", "1", castRe, []string{"str", "many", "int"}},
	}
	for _, tc := range tests {
		var s sample
		dec := yaml.NewDecoder(strings.NewReader(tc.yaml))
		dec.KnownFields(true)
		err := dec.Decode(&s)
		var te *yaml.TypeError
		if !errors.As(err, &te) || len(te.Errors) != 1 {
			t.Fatalf("%q: want one yaml.TypeError, got %v", tc.yaml, err)
		}
		m := lineRe.FindStringSubmatch(te.Errors[0])
		if m == nil || m[1] != tc.line {
			t.Fatalf("%q: %q does not start with \"line %s: \"", tc.yaml, te.Errors[0], tc.line)
		}
		got := tc.re.FindStringSubmatch(m[2])
		if got == nil || !slices.Equal(got[1:], tc.capture) {
			t.Errorf("%q: %q, want %v from %s", tc.yaml, m[2], tc.capture, tc.re)
		}
	}
	// A syntax error is no TypeError and carries the "yaml: " prefix that
	// decodeError strips.
	var s sample
	if err := yaml.Unmarshal([]byte("server: [\n"), &s); err == nil || !strings.HasPrefix(err.Error(), "yaml: ") {
		t.Errorf("syntax error %v, want one starting with \"yaml: \"", err)
	}
}

// TestCheckKnownFieldsLikeYAMLv3: the walk for custom unmarshalers words
// an unknown key as yaml.v3 does, so the same rewriting applies to both.
func TestCheckKnownFieldsLikeYAMLv3(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("name: a\nnmae: b\n"), &n); err != nil {
		t.Fatal(err)
	}
	err := CheckKnownFields(n.Content[0], reflect.TypeFor[plainItem](), "items")
	if err == nil || err.Error() != "line 2: field nmae not found in items" {
		t.Fatalf("got %v", err)
	}
	m := lineRe.FindStringSubmatch(err.Error())
	if m == nil || unknownRe.FindStringSubmatch(m[2]) == nil {
		t.Errorf("%q is not in yaml.v3's form", err)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // the error lines, in order; none: valid
	}{
		{"valid", "server: {url: http://x}\n", nil},
		{"empty is defaults", "", []string{"t.yml: server.url: missing"}},
		{"unknown key names section and allowed keys", "server:\n  url: http://x\n  urll: y\n",
			[]string{`t.yml:3: unknown key "urll" in server (allowed: debug, timeout, url)`}},
		{"unknown top-level key", "sever: {}\nserver: {url: x}\n",
			[]string{`t.yml:1: unknown key "sever" in the top level (allowed: count, items, server)`}},
		{"unknown key in a custom unmarshaler", "server: {url: x}\nitems:\n  - name: a\n    nmae: b\n",
			[]string{`t.yml:4: unknown key "nmae" in items (allowed: name)`}},
		{"bad values", "server:\n  url: x\n  timeout: 5x\n  debug: maybe\ncount: many\n", []string{
			`t.yml:3: "5x" is not a valid duration (e.g. 5s, 1m30s)`,
			`t.yml:4: "maybe" is not a valid boolean (true or false)`,
			`t.yml:5: "many" is not a valid integer`}},
		{"validation at its key's line", "server:\n  url: x\ncount: -1\nitems:\n  - {name: a}\n  - {name: ''}\n", []string{
			"t.yml:3: count: -1 is negative", "t.yml:6: items[1].name: empty"}},
		{"a bad value is not reported again", "server:\n  url: ''\n  debug: maybe\n", []string{
			`t.yml:3: "maybe" is not a valid boolean (true or false)`, "t.yml:2: server.url: missing"}},
		{"same line once", "server: {url: '', timeout: 5x}\n", []string{`t.yml:1: "5x" is not a valid duration (e.g. 5s, 1m30s)`}},
		{"not yaml", "server: [\n", []string{"t.yml:1: did not find expected node content"}},
		{"a second document", "server: {url: x}\n---\ncount: 2\n", []string{
			"t.yml:2: a second YAML document starts here; allowed: one document (all settings under one set of top-level keys)"}},
		{"an empty second document is harmless", "server: {url: x}\n---\n", nil},
		{"a list for the file", "- server\n", []string{
			"t.yml:1: the file holds a list; allowed: a mapping of settings (keys: count, items, server)", "t.yml: server.url: missing"}},
		{"a value for a section", "server: 5\n", []string{
			`t.yml:1: server: "5" where a section belongs; allowed: a mapping of keys (debug, timeout, url)`}},
		{"a mapping for a list", "server: {url: x}\nitems:\n  name: a\n", []string{
			`t.yml:3: items: a mapping where a list belongs; allowed: a list of entries, each starting with "- "`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s sample
			err := Decode("t.yml", []byte(tc.yaml), &s, s.validate)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("errors\n%s\nwant\n%s", err, strings.Join(tc.want, "\n"))
			}
			for _, e := range flatten(err) {
				var fe *FieldError
				if !errors.As(e, &fe) || fe.File != "t.yml" {
					t.Errorf("%v is not a FieldError of t.yml", e)
				}
			}
		})
	}
}

func TestFieldErrorRendering(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "f.yml", Line: 3, Key: "push.url", Msg: "bad"}, "f.yml:3: push.url: bad"},
		{FieldError{File: "f.yml", Key: "push.url", Msg: "bad"}, "f.yml: push.url: bad"},
		{FieldError{File: "f.yml", Line: 2, Msg: `unknown key "x" in push`}, `f.yml:2: unknown key "x" in push`},
		{FieldError{Key: "push.url", Msg: "bad"}, "push.url: bad"},
		{FieldError{Msg: "bad"}, "bad"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v renders %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestRename(t *testing.T) {
	err := Rename(errors.Join(Errorf("workers", "bad"), Errorf("queue.size", "worse"), Errorf("other", "kept"), errors.New("plain")),
		map[string]string{"workers": "avif.workers", "queue.size": "avif.queue_size"})
	want := "avif.workers: bad\navif.queue_size: worse\nother: kept\nplain"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "avif.workers" {
		t.Errorf("errors.As: %+v", fe)
	}
	if Rename(nil, nil) != nil {
		t.Error("Rename(nil) is not nil")
	}
}

// TestLocate: a problem with a setting the file gives is placed at its
// line; one the caller says a flag overrode, one the file does not set (a
// default), one already placed and a plain error are left as they are.
func TestLocate(t *testing.T) {
	data := []byte("queue:\n  size: -1\n  timeout: 0s\nworkers: 0\n")
	err := errors.Join(Errorf("queue.size", "negative"), Errorf("queue.timeout", "zero"), Errorf("workers", "zero"),
		Errorf("cache.size", "negative"), &FieldError{File: "other.yml", Line: 9, Key: "workers", Msg: "placed"}, errors.New("plain"))
	got := Locate("c.yml", data, err, func(key string) bool { return key != "queue.timeout" })
	want := []string{"c.yml:2: queue.size: negative", "queue.timeout: zero", "c.yml:4: workers: zero", "cache.size: negative",
		"other.yml:9: workers: placed", "plain"}
	if lines := strings.Split(got.Error(), "\n"); !slices.Equal(lines, want) {
		t.Errorf("got\n%v\nwant\n%s", got, strings.Join(want, "\n"))
	}
	var fe *FieldError
	if !errors.As(got, &fe) || fe.File != "c.yml" || fe.Line != 2 {
		t.Errorf("errors.As: %+v", fe)
	}
	if Locate("c.yml", data, nil, nil) != nil {
		t.Error("Locate(nil) is not nil")
	}
}

// TestByteSize: sizes as integers or with a unit, in YAML and on the
// command line; a bad one is reported with its line together with the
// file's other problems.
func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "0": 0, "64MiB": 64 << 20, "64MB": 64 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseByteSize("lots"); err == nil || err.Error() != `"lots" is not a size; allowed: bytes as an integer or with a unit such as 512KiB, 64MiB, 1GiB` {
		t.Errorf("ParseByteSize(lots): %v", err)
	}
	var v struct {
		A ByteSize `yaml:"a"`
		B ByteSize `yaml:"b"`
		C int      `yaml:"c"`
	}
	err := Decode("s.yml", []byte("a: 2MiB\nb: lots\nc: x\n"), &v, nil)
	want := []string{`s.yml:2: "lots" is not a size; allowed: bytes as an integer or with a unit such as 512KiB, 64MiB, 1GiB`, `s.yml:3: "x" is not a valid integer`}
	if err == nil || !slices.Equal(strings.Split(err.Error(), "\n"), want) || v.A != 2<<20 {
		t.Errorf("Decode: %v (a=%d), want\n%s", err, v.A, strings.Join(want, "\n"))
	}
	if err := Decode("s.yml", []byte("a: [1]\n"), &v, nil); err == nil || err.Error() != "s.yml:1: a list is not a size; allowed: bytes as an integer or with a unit such as 512KiB, 64MiB, 1GiB" {
		t.Errorf("a list: %v", err)
	}
	if out, err := yaml.Marshal(map[string]ByteSize{"a": 64 << 20}); err != nil || string(out) != "a: 64MiB\n" {
		t.Errorf("Marshal: %q, %v", out, err)
	}
}

func TestUnder(t *testing.T) {
	err := Under("scrape[1].", errors.Join(Errorf("url", "missing"), errors.Join(Errorf("name", "empty"), errors.New("plain"))))
	want := "scrape[1].url: missing\nscrape[1].name: empty\nscrape[1]: plain"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Key != "scrape[1].url" {
		t.Errorf("errors.As: %+v", fe)
	}
	if Under("x.", nil) != nil {
		t.Error("Under(nil) is not nil")
	}
}

// FuzzDecode: any document decodes or fails with FieldErrors, one line
// each; no panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "server: {url: x}", "server:\n  timeout: 5x", "items: [{name: a, x: 1}]", "server: [", "- a", "count: [1]", "count: 1\n---\ncount: 2", "server: 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var s sample
		err := Decode("f.yml", []byte(src), &s, s.validate)
		for _, e := range flatten(err) {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("%v is not a FieldError", e)
			}
		}
	})
}
