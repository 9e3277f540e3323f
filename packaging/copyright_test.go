package packaging

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// binaries are the packaged programs, built as the Makefile builds them.
var binaries = []struct {
	pkg, cmd string
	cgo      bool
}{
	{pkg: "hostpush", cmd: "./cmd/hostpush", cgo: false},
	{pkg: "imageserver", cmd: "./cmd/imageserver", cgo: true},
}

// commonLicenses are the licences Debian ships in /usr/share/common-licenses
// that our copyright files may refer to instead of quoting them. Expat and
// the BSD licences are not among them: their texts must be quoted in full.
var commonLicenses = []string{"Apache-2.0", "MPL-2.0", "GPL-2", "GPL-3", "LGPL-2.1", "LGPL-3"}

// TestCopyrightCoversLinkedModules checks each package's copyright file
// against the modules its binary links: every module (and the standard
// library) has a Files paragraph of its own, naming every licence of the
// module's licence files and every copyright holder of its licence and
// NOTICE files; every pattern matches a linked module; every licence named
// has its text, quoted in full or, where Debian ships it, referred to.
func TestCopyrightCoversLinkedModules(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range binaries {
		t.Run(b.pkg, func(t *testing.T) {
			path := filepath.Join(b.pkg, "copyright")
			d, err := parseDEP5(path)
			if err != nil {
				t.Fatal(err)
			}
			if f := d.header["Format"]; f != "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" {
				t.Errorf("%s: Format %q is not DEP-5 1.0", path, f)
			}
			mods, err := linkedModules(root, b.cmd, b.cgo)
			if err != nil {
				t.Fatal(err)
			}
			var summary []string
			for _, m := range mods {
				lics, err := checkModule(d, m)
				if err != nil {
					t.Errorf("%s: %v", path, err)
				}
				summary = append(summary, m.path+" "+strings.Join(lics, "+"))
			}
			t.Logf("%s links %d modules (with std):\n%s", b.pkg, len(mods), strings.Join(summary, "\n"))
			for _, err := range checkPatternsUsed(d, mods) {
				t.Errorf("%s: %v", path, err)
			}
			for _, err := range checkLicenseTexts(d) {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
}

// checkModule checks one module against the paragraph that covers it and
// returns the module's licences.
func checkModule(d *dep5, m module) ([]string, error) {
	lics, holders, err := moduleLicenses(m)
	if err != nil {
		return nil, err
	}
	want := strings.TrimSuffix(m.dep5Path(), "LICENSE") + "*"
	p, pat := d.covering(m.dep5Path())
	if p == nil || pat == "*" {
		return lics, fmt.Errorf("%s (%s) is linked in but has no Files paragraph: add one with Files: %s, License: %s and its copyright holders",
			m.path, strings.Join(lics, ", "), want, strings.Join(lics, " and "))
	}
	named := p.licenseNames()
	var missing []string
	for _, l := range lics {
		if !slices.Contains(named, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return lics, fmt.Errorf("%s is under %s, which its paragraph (Files: %s, License: %s) does not name",
			m.path, strings.Join(missing, " and "), pat, strings.Join(named, " and "))
	}
	text := normalize(p["Copyright"] + " " + p["Comment"])
	for _, h := range holders {
		if !strings.Contains(text, normalize(h)) {
			return lics, fmt.Errorf("%s: its licence or NOTICE files name the copyright holder %q, which its paragraph (Files: %s) does not", m.path, h, pat)
		}
	}
	return lics, nil
}

// checkPatternsUsed reports Files patterns (other than "*") that match no
// linked module: a dependency that went away.
func checkPatternsUsed(d *dep5, mods []module) []error {
	var errs []error
	for _, p := range d.files {
		for _, pat := range p.patterns() {
			if pat == "*" {
				continue
			}
			used := slices.ContainsFunc(mods, func(m module) bool { return matchFiles(pat, m.dep5Path()) })
			if !used {
				errs = append(errs, fmt.Errorf("Files: %s matches no module the binary links: remove it", pat))
			}
		}
	}
	return errs
}

// checkLicenseTexts checks that every licence a Files paragraph names has a
// License paragraph, quoting its text (recognised as that licence) or
// referring to Debian's copy in /usr/share/common-licenses, and that no
// License paragraph is unused.
func checkLicenseTexts(d *dep5) []error {
	var errs []error
	used := map[string]bool{}
	for _, p := range d.files {
		for _, l := range p.licenseNames() {
			used[l] = true
		}
	}
	for l := range used {
		text, ok := d.licenses[l]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("License %s is named but has no License paragraph with its text", l))
		case slices.Contains(commonLicenses, l):
			ref := "/usr/share/common-licenses/" + l
			if !strings.Contains(text, ref) {
				errs = append(errs, fmt.Errorf("License %s: its paragraph neither quotes it nor refers to %s", l, ref))
			} else if _, err := os.Stat(ref); err != nil {
				errs = append(errs, fmt.Errorf("License %s refers to %s, which this Debian system lacks: %v", l, ref, err))
			}
		case !slices.Equal(classify(text), []string{l}):
			errs = append(errs, fmt.Errorf("License %s: its paragraph does not hold the full text of %s (recognised: %v)", l, l, classify(text)))
		}
	}
	for l := range d.licenses {
		if !used[l] {
			errs = append(errs, fmt.Errorf("License %s has a paragraph but no Files paragraph names it", l))
		}
	}
	return errs
}

func TestClassify(t *testing.T) {
	const bsd = "Redistribution and use in source and binary forms, with or without\nmodification, are permitted"
	const endorse = "Neither the name of Google Inc. nor the names of its contributors\nmay be used to endorse or promote products derived from this software"
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"apache full text", "                                 Apache License\n                           Version 2.0, January 2004", []string{"Apache-2.0"}},
		{"apache boilerplate", `Licensed under the Apache License, Version 2.0 (the "License");`, []string{"Apache-2.0"}},
		{"mpl", "Mozilla Public License Version 2.0\n==================================", []string{"MPL-2.0"}},
		{"mpl notice", "subject to the terms of the Mozilla Public\nLicense, v. 2.0.", []string{"MPL-2.0"}},
		{"expat", "Permission is hereby granted, free of charge, to any person obtaining a copy\nof this software", []string{"Expat"}},
		{"isc", "Permission to use, copy, modify, and/or distribute this software for any purpose", []string{"ISC"}},
		{"bsd-2", bsd + "\n1. Redistributions of source code", []string{"BSD-2-Clause"}},
		{"bsd-3", bsd + "\n" + endorse, []string{"BSD-3-Clause"}},
		{"two licences", "Permission is hereby granted, free of charge, to any person obtaining a copy\n\nLicensed under the Apache License, Version 2.0", []string{"Apache-2.0", "Expat"}},
		{"unknown", "This is free and unencumbered software released into the public domain.", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCopyrightHolders(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"Copyright (C) 2016-2022 Matt Layher\n\nPermission is hereby granted", []string{"Matt Layher"}},
		{"Copyright © 2015-2023 Brett Vickers. All rights reserved.", []string{"Brett Vickers"}},
		{"Copyright (c) 2013, Georg Reinke (<guelfey at gmail dot com>), Google\nAll rights reserved.", []string{"Georg Reinke (<guelfey at gmail dot com>), Google"}},
		{"Copyright (c) 2009,2014 Google Inc. All rights reserved.", []string{"Google Inc"}},
		{"   Copyright [yyyy] [name of copyright owner]", nil},
		{"copyright notice, this list of conditions", nil},
		{"Copyright 2012-2015 The Prometheus Authors\nCopyright 2010 The Go Authors", []string{"The Prometheus Authors", "The Go Authors"}},
	} {
		if got := copyrightHolders(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("copyrightHolders(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestCheckModuleFails feeds the checks a module and copyright files that
// disagree, so that the real check above is known to be able to fail.
func TestCheckModuleFails(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "mod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	license := "Copyright 2017 HashiCorp, Inc.\n\nMozilla Public License Version 2.0\n"
	if err := os.WriteFile(filepath.Join(mod, "LICENSE"), []byte(license), 0o644); err != nil {
		t.Fatal(err)
	}
	m := module{path: "example.com/envparse", dir: mod}
	header := "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nCopyright: us\nLicense: Apache-2.0\n\n"
	for _, tc := range []struct{ name, paragraph, want string }{
		{"no paragraph", "", "has no Files paragraph"},
		{"licence not named", "Files: vendor/example.com/envparse/*\nCopyright: 2017 HashiCorp, Inc.\nLicense: BSD-3-Clause\n", "is under MPL-2.0"},
		{"holder missing", "Files: vendor/example.com/*\nCopyright: 2017 Someone\nLicense: MPL-2.0\n", `copyright holder "HashiCorp, Inc"`},
		{"covered", "Files: vendor/example.com/envparse/*\nCopyright: 2017 HashiCorp, Inc.\nLicense: MPL-2.0\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "copyright")
			if err := os.WriteFile(path, []byte(header+tc.paragraph), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := parseDEP5(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = checkModule(d, m)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("checkModule: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("checkModule: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
