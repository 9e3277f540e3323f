// Package yamlconf decodes the YAML configuration of both binaries
// strictly (an unknown key is an error) and reports every problem at once
// as a FieldError naming the key and its line. It is the one place that
// knows yaml.v3's error messages, and the FieldError type is the one every
// configuration section reports its problems with.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes data, the YAML document named name in errors, strictly
// into v (a pointer to a struct that already holds the defaults) and then
// calls validate. It returns every problem at once, joined, each a
// *FieldError with name and line: yaml.v3's complaints rewritten to say
// which key is wrong and what is allowed there, then validate's errors at
// the line of their FieldError's key. Data that is not YAML at all is
// reported alone, without validation.
//
// A nil validate only decodes, for settings that are validated after flags
// are merged over the file; Locate then places their problems.
func Decode(name string, data []byte, v any, validate func() error) error {
	d := &doc{name: name, root: &yaml.Node{}, t: reflect.TypeOf(v).Elem()}
	_ = yaml.Unmarshal(data, d.root)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var decErrs []error
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return d.decodeError(err) // not YAML at all
		}
		// yaml.v3 decodes the rest past unknown keys and bad values, so
		// validation can still report the other problems.
		decErrs = flatten(d.decodeError(err))
	}
	if fe := d.secondDocument(dec); fe != nil {
		decErrs = append(decErrs, fe)
	}
	if validate == nil {
		return errors.Join(decErrs...)
	}
	errs := decErrs
	for _, e := range flatten(validate()) {
		if fe := d.locate(e); !sameLine(decErrs, fe) {
			errs = append(errs, fe)
		}
	}
	return errors.Join(errs...)
}

// secondDocument reports a document after the first, which Decode would
// otherwise leave unread: its settings would be lost without a word. An
// empty one (a trailing ---) is harmless.
func (d *doc) secondDocument(dec *yaml.Decoder) *FieldError {
	var next yaml.Node
	if err := dec.Decode(&next); err != nil {
		return nil // none, or one the first document's error covers
	}
	if len(next.Content) == 1 && next.Content[0].Kind == yaml.ScalarNode && next.Content[0].Tag == "!!null" && next.Content[0].Value == "" {
		return nil
	}
	return &FieldError{File: d.name, Line: next.Line, Msg: "a second YAML document starts here; allowed: one document (all settings under one set of top-level keys)"}
}

// doc is one document being decoded: its name in errors, its node tree
// (for the lines of keys) and the type it is decoded into.
type doc struct {
	name string
	root *yaml.Node
	t    reflect.Type
}

// sameLine reports whether one of errs is already about e's line: a bad
// value leaves a zero value behind, which validation would report again.
func sameLine(errs []error, e *FieldError) bool {
	for _, d := range errs {
		var fe *FieldError
		if errors.As(d, &fe) && fe.File == e.File && fe.Line == e.Line {
			return true
		}
	}
	return false
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in (?:type )?(.+)$`)
	castRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	shapeRe   = regexp.MustCompile(`^cannot unmarshal !!(\w+)(?: ` + "`.*`" + `)? into (.+)$`)
)

// decodeError rewrites yaml.v3's messages into one line per problem naming
// the key and what is allowed.
func (d *doc) decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A syntax error, or one from a custom unmarshaler (which stops
		// the decoding there).
		return d.problem(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var errs []error
	for _, e := range te.Errors {
		errs = append(errs, d.problem(e))
	}
	return errors.Join(errs...)
}

// problem turns one of yaml.v3's "line N: ..." messages into a FieldError
// at line N, naming an unknown key's section and its allowed keys.
func (d *doc) problem(e string) *FieldError {
	line, msg := 0, e
	if m := lineRe.FindStringSubmatch(e); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if m := unknownRe.FindStringSubmatch(msg); m != nil {
		where, keys := d.section(line, m[1])
		msg = fmt.Sprintf("unknown key %q in %s", m[1], where)
		if len(keys) > 0 {
			msg += fmt.Sprintf(" (allowed: %s)", strings.Join(keys, ", "))
		}
	} else if fe := d.shapeProblem(line, msg); fe != nil {
		return fe
	} else if m := castRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("%q is not a valid %s", m[2], describeType(m[3]))
	}
	return &FieldError{File: d.name, Line: line, Msg: msg}
}

// shapeProblem rewrites yaml.v3's complaint about a value of the wrong
// shape where a section (a mapping of keys) or a list belongs, which
// names only Go types ("cannot unmarshal !!seq into config.File"): it
// names the key, what was found and the keys allowed there. nil for any
// other message.
func (d *doc) shapeProblem(line int, msg string) *FieldError {
	m := shapeRe.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	kind, got := yaml.ScalarNode, ""
	switch m[1] {
	case "map":
		kind, got = yaml.MappingNode, "a mapping"
	case "seq":
		kind, got = yaml.SequenceNode, "a list"
	}
	path, n := valuePath(d.root, line, kind)
	if n == nil {
		return nil
	}
	if got == "" {
		got = strconv.Quote(n.Value)
	}
	t := d.t
	for _, seg := range path {
		if t = fieldType(t, seg); t == nil {
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fe := &FieldError{File: d.name, Line: line, Key: strings.Join(path, ".")}
	switch {
	case t.Kind() == reflect.Struct && len(path) == 0:
		fe.Msg = fmt.Sprintf("the file holds %s; allowed: a mapping of settings (keys: %s)", got, strings.Join(yamlKeys(t), ", "))
	case t.Kind() == reflect.Struct:
		fe.Msg = fmt.Sprintf("%s where a section belongs; allowed: a mapping of keys (%s)", got, strings.Join(yamlKeys(t), ", "))
	case kind == yaml.ScalarNode:
		return nil // a scalar of the wrong type: castRe's message says it
	case t.Kind() == reflect.Slice:
		fe.Msg = fmt.Sprintf("%s where a list belongs; allowed: a list of entries, each starting with \"- \"", got)
	case t.Kind() == reflect.Map:
		fe.Msg = fmt.Sprintf("%s where a mapping belongs; allowed: key: value pairs", got)
	default:
		fe.Msg = fmt.Sprintf("%s is not a valid %s", got, describeType(m[2]))
	}
	return fe
}

// valuePath returns the first node of kind at line and the mapping keys
// leading to it; a nil node when there is none.
func valuePath(n *yaml.Node, line int, kind yaml.Kind) ([]string, *yaml.Node) {
	if n.Line == line && n.Kind == kind {
		return nil, n
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if p, v := valuePath(c, line, kind); v != nil {
				return p, v
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, v := valuePath(n.Content[i+1], line, kind); v != nil {
				return append([]string{n.Content[i].Value}, p...), v
			}
		}
	}
	return nil, nil
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
// and the decoded value's types along the same keys. yaml.v3 names the Go
// type in its message, which custom unmarshalers hide ("config.plain").
func (d *doc) section(line int, key string) (string, []string) {
	path, ok := keyPath(d.root, line, key)
	if !ok {
		return "the file", nil
	}
	t := d.t
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

// locate places a validation error at the line of its key in the file.
func (d *doc) locate(e error) *FieldError {
	var fe *FieldError
	if !errors.As(e, &fe) {
		return &FieldError{File: d.name, Msg: e.Error()}
	}
	c := *fe
	c.File, c.Line = d.name, lineOf(d.root, fe.Key)
	return &c
}

// Locate places the problems in err that are about the document's own
// settings at their keys' lines in it: every FieldError whose key data (the
// document named name) sets and which fromFile accepts (the caller knows
// which settings a flag overrode). The rest, settings that came from flags
// or defaults, stay without a file, as hostpush renders a flag's problem.
func Locate(name string, data []byte, err error, fromFile func(key string) bool) error {
	if err == nil {
		return nil
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	var errs []error
	for _, e := range flatten(err) {
		var fe *FieldError
		if !errors.As(e, &fe) || fe.File != "" || fe.Key == "" || !fromFile(fe.Key) {
			errs = append(errs, e)
			continue
		}
		if line, ok := keyLine(&root, fe.Key); ok {
			c := *fe
			c.File, c.Line = name, line
			e = &c
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// lineOf finds the line of a key path like push.url, remote_write[1].url or
// collectors.flags.filesystem.mount-points-exclude (a key may hold dots).
// It returns the deepest line found, 0 when even the first key is absent.
func lineOf(root *yaml.Node, path string) int {
	line, _ := keyLine(root, path)
	return line
}

// keyLine is lineOf that also reports whether the whole path was found.
func keyLine(root *yaml.Node, path string) (int, bool) {
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
				return line, false
			}
			n, line, i = n.Content[idx], n.Content[idx].Line, i+1
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line, false
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
			return line, false
		}
	}
	return line, line > 0
}

func splitPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	return strings.Split(path, ".")
}
