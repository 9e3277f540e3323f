package packaging

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// paragraph is one paragraph of a machine-readable debian/copyright file
// (DEP-5): field names as written, values with continuation lines joined
// by "\n" and the " ." empty-line marker turned into an empty line.
type paragraph map[string]string

// dep5 is a parsed copyright file.
type dep5 struct {
	header   paragraph
	files    []paragraph // Files paragraphs, in file order
	licenses map[string]string
}

// parseDEP5 reads a copyright file in the DEP-5 format.
func parseDEP5(path string) (*dep5, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var paras []paragraph
	cur, field := paragraph{}, ""
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				paras = append(paras, cur)
			}
			cur, field = paragraph{}, ""
		case line[0] == ' ' || line[0] == '\t':
			if field == "" {
				return nil, fmt.Errorf("%s:%d: continuation line outside a field", path, i+1)
			}
			v := strings.TrimSpace(line)
			if v == "." {
				v = ""
			}
			cur[field] += "\n" + v
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("%s:%d: %q is neither a field nor a continuation line", path, i+1, line)
			}
			field = k
			cur[field] = strings.TrimSpace(v)
		}
	}
	if len(cur) > 0 {
		paras = append(paras, cur)
	}
	if len(paras) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	d := &dep5{header: paras[0], licenses: map[string]string{}}
	for _, p := range paras[1:] {
		_, isFiles := p["Files"]
		lic, hasLic := p["License"]
		switch {
		case isFiles:
			d.files = append(d.files, p)
		case hasLic:
			name, text, _ := strings.Cut(lic, "\n")
			d.licenses[name] = text
		default:
			return nil, fmt.Errorf("%s: a paragraph with neither Files nor License: %v", path, p)
		}
	}
	return d, nil
}

// patterns returns the Files patterns of a paragraph.
func (p paragraph) patterns() []string { return strings.Fields(p["Files"]) }

// licenseNames returns the short names of a paragraph's License expression
// ("Expat and Apache-2.0" gives both; "or" and "," also separate).
func (p paragraph) licenseNames() []string {
	first, _, _ := strings.Cut(p["License"], "\n")
	var names []string
	for _, f := range strings.FieldsFunc(first, func(r rune) bool { return r == ' ' || r == ',' }) {
		if f != "and" && f != "or" {
			names = append(names, f)
		}
	}
	return names
}

// matchFiles reports whether path matches a DEP-5 Files pattern: "*"
// matches any run of characters including "/", "?" one character.
func matchFiles(pattern, path string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\*`, ".*")
	re = strings.ReplaceAll(re, `\?`, ".")
	return regexp.MustCompile("^" + re + "$").MatchString(path)
}

// covering returns the Files paragraph that applies to path: the last one
// with a matching pattern, as DEP-5 specifies.
func (d *dep5) covering(path string) (paragraph, string) {
	var got paragraph
	var pat string
	for _, p := range d.files {
		for _, f := range p.patterns() {
			if matchFiles(f, path) {
				got, pat = p, f
			}
		}
	}
	return got, pat
}
