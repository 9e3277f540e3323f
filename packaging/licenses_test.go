package packaging

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// module is one Go module linked into a binary, or the standard library
// (path "std", dir GOROOT).
type module struct {
	path, dir string
}

// dep5Path is where the copyright file's Files patterns put a module.
func (m module) dep5Path() string {
	if m.path == "std" {
		return "GOROOT/LICENSE"
	}
	return "vendor/" + m.path + "/LICENSE"
}

// linkedModules lists the modules whose packages a command links, the way
// the Makefile builds it (cgo on or off), from go list's package graph: the
// same set `go version -m` prints for the built binary.
func linkedModules(root, cmd string, cgo bool) ([]module, error) {
	c := exec.Command("go", "list", "-deps", "-f",
		"{{if .Standard}}std{{else}}{{with .Module}}{{if not .Main}}{{.Path}}\t{{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}{{end}}{{end}}{{end}}", cmd)
	c.Dir = root
	c.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[cgo])
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %w: %s", cmd, err, stderr.Bytes())
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	seen := map[string]module{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		switch line := sc.Text(); {
		case line == "":
		case line == "std":
			seen["std"] = module{path: "std", dir: strings.TrimSpace(string(goroot))}
		default:
			path, dir, _ := strings.Cut(line, "\t")
			seen[path] = module{path: path, dir: dir}
		}
	}
	mods := make([]module, 0, len(seen))
	for _, m := range seen {
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].path < mods[j].path })
	return mods, nil
}

// licenseFileRe matches the files that hold a module's licence terms.
var licenseFileRe = regexp.MustCompile(`(?i)^(licen[cs]e|copying)([.-].*)?$`)

// noticeFileRe matches the files whose copyright lines must be kept too.
var noticeFileRe = regexp.MustCompile(`(?i)^notices?([.].*)?$`)

// licenseRules tell licences apart by phrases of their texts, matched on
// lower-cased text with whitespace collapsed. A BSD text is 3-clause when it
// has the non-endorsement clause. Names are DEP-5's short names.
var licenseRules = []struct {
	name string
	all  []*regexp.Regexp
	none []*regexp.Regexp
}{
	{name: "Apache-2.0", all: res(`apache license,? version 2\.0`)},
	{name: "MPL-2.0", all: res(`mozilla public license,? (version |v\. ?)2\.0`)},
	{name: "Expat", all: res(`permission is hereby granted, free of charge, to any person obtaining a copy`)},
	{name: "ISC", all: res(`permission to use, copy, modify, and(/or)? distribute this software for any purpose`)},
	{name: "BSD-3-Clause", all: res(`redistribution and use in source and binary forms`, `may be used to endorse or promote products derived from this software`)},
	{name: "BSD-2-Clause", all: res(`redistribution and use in source and binary forms`), none: res(`may be used to endorse or promote products derived from this software`)},
}

func res(exprs ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(exprs))
	for i, e := range exprs {
		out[i] = regexp.MustCompile(e)
	}
	return out
}

// classify returns the licences a text states, by DEP-5 short name.
func classify(text string) []string {
	t := strings.Join(strings.Fields(strings.ToLower(text)), " ")
	var names []string
rules:
	for _, r := range licenseRules {
		for _, re := range r.all {
			if !re.MatchString(t) {
				continue rules
			}
		}
		for _, re := range r.none {
			if re.MatchString(t) {
				continue rules
			}
		}
		names = append(names, r.name)
	}
	return names
}

// moduleLicenses returns the licences of a module's licence files, and the
// copyright holders named in them and in its NOTICE files. A licence file
// whose text no rule recognises is an error: a new licence needs a rule.
func moduleLicenses(m module) (licenses, holders []string, err error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, nil, err
	}
	lics := map[string]bool{}
	for _, e := range entries {
		isLicense, isNotice := licenseFileRe.MatchString(e.Name()), noticeFileRe.MatchString(e.Name())
		if e.IsDir() || (!isLicense && !isNotice) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		if isLicense {
			found := classify(string(b))
			if len(found) == 0 {
				return nil, nil, fmt.Errorf("%s: no known licence in %s (add a rule to licenseRules)", m.path, e.Name())
			}
			for _, l := range found {
				lics[l] = true
			}
		}
		holders = append(holders, copyrightHolders(string(b))...)
	}
	if len(lics) == 0 {
		return nil, nil, fmt.Errorf("%s: no LICENSE or COPYING file in %s", m.path, m.dir)
	}
	for l := range lics {
		licenses = append(licenses, l)
	}
	sort.Strings(licenses)
	return licenses, holders, nil
}

var (
	copyrightLineRe = regexp.MustCompile(`(?m)^[\s*#/]*Copyright\b(.*)$`)
	// What precedes the holder: (c), ©, years and year ranges.
	holderPrefixRe = regexp.MustCompile(`^(\s|\(c\)|\(C\)|©|[0-9]{4}|[-,–])*`)
	holderSuffixRe = regexp.MustCompile(`(?i)[\s.,]*(all rights reserved\.?)?[\s.]*$`)
)

// copyrightHolders returns the holders of the "Copyright <years> <holder>"
// lines of a text, skipping templates such as Apache's "[yyyy] [name]".
func copyrightHolders(text string) []string {
	var out []string
	for _, m := range copyrightLineRe.FindAllStringSubmatch(text, -1) {
		rest := m[1]
		if strings.ContainsAny(rest, "[]{}") && strings.Contains(strings.ToLower(rest), "yyyy") {
			continue
		}
		h := holderSuffixRe.ReplaceAllString(holderPrefixRe.ReplaceAllString(rest, ""), "")
		if h != "" && !strings.HasPrefix(strings.ToLower(h), "notice") {
			out = append(out, h)
		}
	}
	return out
}

// normalize lower-cases a text and collapses its whitespace, so that holder
// names can be found in wrapped DEP-5 fields.
func normalize(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
