// Package config reads hostpush's YAML configuration file: strict (an
// unknown key is an error naming key and line), with every problem reported
// at once, each with the line it is on.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hostpush/hostpush/agent/pushgateway"
	"github.com/hostpush/hostpush/agent/remotewrite"
	"github.com/hostpush/hostpush/collectors/node"
	"github.com/hostpush/hostpush/collectors/scrape"
)

// File is the whole configuration file.
type File struct {
	Push        pushgateway.Config   `yaml:"push"`
	Collectors  node.Config          `yaml:"collectors"`
	Scrape      []scrape.Target      `yaml:"scrape"`
	RemoteWrite []remotewrite.Config `yaml:"remote_write"`
}

// DefaultScrape is the co-located image server, scraped when the file has
// no scrape list; a target that is down costs one refused connection per
// tick and shows as hostpush_scrape_success 0.
var DefaultScrape = []scrape.Target{{Name: "imageserver", URL: "http://127.0.0.1:3002/metrics"}}

// Default returns the configuration used when no file is given.
func Default() File {
	return File{Push: pushgateway.DefaultConfig(), Scrape: DefaultScrape}
}

// Validate checks every block and joins all problems; each names its key.
func (f *File) Validate() error {
	errs := []error{f.Push.Validate(), f.Collectors.Validate(), scrape.ValidateAll(f.Scrape), remotewrite.ValidateList(f.RemoteWrite)}
	if f.Push.Disabled && len(f.RemoteWrite) == 0 {
		errs = append(errs, errors.New("push.disabled: true with no remote_write outputs leaves nothing to send to (allowed: false, or add remote_write)"))
	}
	return errors.Join(errs...)
}

// Load reads and validates the file at path on top of Default.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) on top of Default and validates
// it. Errors are one line each, "name:line: key: problem", joined.
func Parse(name string, data []byte) (*File, error) {
	f := Default()
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var decErrs []error
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, decodeError(name, &root, err) // not YAML at all
		}
		// yaml.v3 decodes the rest past unknown keys and bad values, so
		// validation can still report the other problems.
		decErrs = flatten(decodeError(name, &root, err))
	}
	errs := decErrs
	if err := f.Validate(); err != nil {
		for _, e := range flatten(withLines(name, &root, err)) {
			if !sameLine(decErrs, e) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return &f, errors.Join(errs...)
	}
	return &f, nil
}

// sameLine reports whether one of errs is already about e's line: a bad
// value leaves a zero value behind, which validation would report again.
func sameLine(errs []error, e error) bool {
	pos, _, _ := strings.Cut(e.Error(), ": ")
	for _, d := range errs {
		if p, _, _ := strings.Cut(d.Error(), ": "); p == pos {
			return true
		}
	}
	return false
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in (?:type )?(.+)$`)
	castRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// decodeError rewrites yaml.v3's messages into one line per problem naming
// the key and what is allowed.
func decodeError(name string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A syntax error, or one from a custom unmarshaler (which stops
		// the decoding there).
		return problem(name, root, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var errs []error
	for _, e := range te.Errors {
		errs = append(errs, problem(name, root, e))
	}
	return errors.Join(errs...)
}

// problem turns one of yaml.v3's "line N: ..." messages into
// "name:N: ...", naming an unknown key's section and its allowed keys.
func problem(name string, root *yaml.Node, e string) error {
	line, msg := "", e
	if m := lineRe.FindStringSubmatch(e); m != nil {
		line, msg = m[1], m[2]
	}
	if m := unknownRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(line)
		where, keys := section(root, n, m[1])
		msg = fmt.Sprintf("unknown key %q in %s", m[1], where)
		if len(keys) > 0 {
			msg += fmt.Sprintf(" (allowed: %s)", strings.Join(keys, ", "))
		}
	} else if m := castRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%q is not a valid %s", m[2], describeType(m[3]))
	}
	if line == "" {
		return fmt.Errorf("%s: %s", name, msg)
	}
	return fmt.Errorf("%s:%s: %s", name, line, msg)
}

func describeType(goType string) string {
	switch {
	case goType == "time.Duration":
		return "duration (e.g. 5s, 1m30s)"
	case goType == "bool":
		return "boolean (true or false)"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "integer"
	case strings.HasPrefix(goType, "map["):
		return "mapping of key: value"
	case strings.HasPrefix(goType, "[]"):
		return "list"
	}
	return "value for " + goType
}

// section finds where the unknown key at line sits in the file (e.g.
// "push.tls_config") and the keys allowed there, by walking the YAML tree
// and File's types along the same keys. yaml.v3 names the Go type in its
// message, which custom unmarshalers hide ("config.plain").
func section(root *yaml.Node, line int, key string) (string, []string) {
	path, ok := keyPath(root, line, key)
	if !ok {
		return "the file", nil
	}
	t := reflect.TypeOf(File{})
	for _, seg := range path {
		if t = fieldType(t, seg); t == nil {
			return strings.Join(path, "."), nil
		}
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if len(path) == 0 {
		return "the top level", yamlKeys(t)
	}
	if t.Kind() != reflect.Struct {
		return strings.Join(path, "."), nil
	}
	return strings.Join(path, "."), yamlKeys(t)
}

// keyPath returns the mapping keys leading to the key named key at line.
func keyPath(n *yaml.Node, line int, key string) ([]string, bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if p, ok := keyPath(c, line, key); ok {
				return p, true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == line && k.Value == key {
				return nil, true
			}
			if p, ok := keyPath(v, line, key); ok {
				return append([]string{k.Value}, p...), true
			}
		}
	}
	return nil, false
}

// fieldType returns the type of t's field with YAML key name, looking into
// inline fields, slices and pointers; nil when there is none.
func fieldType(t reflect.Type, name string) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			if ft := fieldType(f.Type, name); ft != nil {
				return ft
			}
			continue
		}
		if tag == name || (tag == "" && strings.ToLower(f.Name) == name) {
			return f.Type
		}
	}
	return nil
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			keys = append(keys, yamlKeys(f.Type)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

// withLines prefixes every validation error, which starts with its key path
// ("push.url: ..."), with the file name and the line of that key.
func withLines(name string, root *yaml.Node, err error) error {
	var errs []error
	for _, e := range flatten(err) {
		msg := e.Error()
		key, _, _ := strings.Cut(msg, ": ")
		if line := lineOf(root, key); line > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, line, e))
		} else {
			errs = append(errs, fmt.Errorf("%s: %w", name, e))
		}
	}
	return errors.Join(errs...)
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// lineOf finds the line of a key path like push.url, remote_write[1].url or
// collectors.flags.filesystem.mount-points-exclude (a key may hold dots).
// It returns the deepest line found, 0 when even the first key is absent.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	segs := splitPath(path)
	line := 0
	for i := 0; i < len(segs) && n != nil; {
		seg := segs[i]
		if idx, err := strconv.Atoi(seg); err == nil && n.Kind == yaml.SequenceNode {
			if idx >= len(n.Content) {
				return line
			}
			n, line, i = n.Content[idx], n.Content[idx].Line, i+1
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		// Try the longest run of segments first: keys may contain dots.
		for j := len(segs); j > i && !found; j-- {
			key := strings.Join(segs[i:j], ".")
			for k := 0; k+1 < len(n.Content); k += 2 {
				if n.Content[k].Value == key {
					line, n, i, found = n.Content[k].Line, n.Content[k+1], j, true
					break
				}
			}
		}
		if !found {
			return line
		}
	}
	return line
}

func splitPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	return strings.Split(path, ".")
}
