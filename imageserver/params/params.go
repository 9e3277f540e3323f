// Package params parses and normalizes imgix-style image URL parameters and
// checks imgix request signatures. It knows nothing about pixels: the
// pipeline turns Options into work.
package params

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxSide is the largest width or height a request may ask for, in pixels.
const MaxSide = 8192

// MaxBlur is the largest accepted blur value (imgix's range is 0-2000).
const MaxBlur = 2000

// Fit says how the source is fitted into the requested box.
type Fit string

// The fit modes implemented, with imgix semantics.
const (
	FitClip    Fit = "clip"    // fit inside the box, keep aspect ratio (default)
	FitCrop    Fit = "crop"    // fill the box, cut the overflow as crop says
	FitMax     Fit = "max"     // like clip, never enlarges
	FitMin     Fit = "min"     // like crop, never enlarges
	FitScale   Fit = "scale"   // stretch to the box exactly
	FitFill    Fit = "fill"    // fit inside the box, pad the rest (fill-color)
	FitFillMax Fit = "fillmax" // like fill, never enlarges the image
	FitClamp   Fit = "clamp"   // like fill, the rest repeats the edge pixels
)

// Crop is a set of crop anchors (imgix lets them be chained: crop=top,left).
type Crop uint8

// Crop anchors; zero means center.
const (
	CropTop Crop = 1 << iota
	CropBottom
	CropLeft
	CropRight
	CropEntropy
)

// Format is an output image format.
type Format string

// Output formats.
const (
	FormatJPEG  Format = "jpg"
	FormatPJPEG Format = "pjpg" // progressive JPEG
	FormatPNG   Format = "png"
	FormatWebP  Format = "webp"
	FormatAVIF  Format = "avif"
)

// Flip mirrors the output.
type Flip uint8

// Flip directions.
const (
	FlipH Flip = 1 << iota
	FlipV
)

// Dim is a requested width or height: pixels, or a fraction of the source.
type Dim struct {
	Px   int     // pixels, 0 when unset or when Frac is set
	Frac float64 // fraction of the source side in (0,1), 0 when unset
}

// IsSet reports whether the dimension was given.
func (d Dim) IsSet() bool { return d.Px > 0 || d.Frac > 0 }

// Resolve returns the dimension in pixels for a source side of src pixels.
func (d Dim) Resolve(src int) float64 {
	if d.Frac > 0 {
		return d.Frac * float64(src)
	}
	return float64(d.Px)
}

func (d Dim) String() string {
	if d.Frac > 0 {
		return strconv.FormatFloat(d.Frac, 'f', -1, 64)
	}
	return strconv.Itoa(d.Px)
}

// Sides are padding widths in pixels.
type Sides struct{ Top, Right, Bottom, Left int }

// Ratio is an aspect ratio W:H; the zero value means unset.
type Ratio struct{ W, H float64 }

// IsSet reports whether the ratio was given.
func (r Ratio) IsSet() bool { return r.W > 0 && r.H > 0 }

// Options are the normalized parameters of one request. The zero values
// of the optional fields mean "not given".
type Options struct {
	W, H       Dim
	Fit        Fit
	Crop       Crop
	Rect       Rect    // source region cut before anything else (rect)
	AR         Ratio   // aspect ratio for fit=crop and fit=fill (ar)
	Blur       int     // imgix blur 0-2000
	Sharp      float64 // sharpen 0-100
	Rot        float64 // rotation within the frame, degrees counter-clockwise [0,360)
	Orient     int     // 1-8 overrides the source's EXIF orientation (or, orient); 0: the source's
	Flip       Flip
	FillColor  Colour // colour of the excess of fit=fill and fillmax (fill=solid)
	BG         Colour // background of padding and transparent areas (bg)
	Pad        Sides
	Quality    int    // 0-100; see QualityFor
	QualitySet bool   // q was given
	Format     Format // empty: same as the source (or negotiated with AutoFormat)
	AutoFormat bool
	Compress   bool // auto=compress
	Lossless   bool // lossless=1 (WebP)
	DPR        float64
}

// Defaults returns the options of a request without parameters.
func Defaults() Options {
	return Options{Fit: FitClip, Quality: 75, DPR: 1}
}

// QualityFor is the encoder quality for output format fm: q when given;
// else imgix's 45 with auto=compress; else 60 for AVIF, whose scale runs
// higher (AVIF at 60 is smaller than WebP at 75 and closer to the source,
// measured on the 12 MP photo at 1024x1024); else 75.
func (o Options) QualityFor(fm Format) int {
	switch {
	case o.QualitySet:
		return o.Quality
	case o.Compress:
		return 45
	case fm == FormatAVIF:
		return 60
	}
	return 75
}

// Error is a bad parameter; its message names the parameter and what is allowed
// and is safe to show to clients.
type Error struct {
	Param string
	Msg   string
}

func (e *Error) Error() string { return e.Param + ": " + e.Msg }

func bad(param, format string, a ...any) error {
	return &Error{Param: param, Msg: fmt.Sprintf(format, a...)}
}

// Ignored is an imgix parameter (or one value of it) that the request gave
// and this server does not implement: it has no effect.
type Ignored struct {
	Param string // imgix's canonical name, a bounded set (for metric labels)
	Shown string // as the client wrote it: "txt", or "fm=jxr" for an unimplemented value
}

// Parse parses the query of an image URL; see ParseWithIgnored.
func Parse(q url.Values) (Options, error) {
	o, _, err := ParseWithIgnored(q)
	return o, err
}

// ParseWithIgnored parses the query of an image URL. Unknown parameters are
// ignored, as imgix does; imgix parameters (and values) that are not
// implemented are ignored too and returned, so that the caller can say so.
// A parameter given twice (also under an alias, or base64-encoded as
// name64) or out of range is an error; auto may repeat, as in imgix.
func ParseWithIgnored(q url.Values) (Options, []Ignored, error) {
	o := Defaults()
	vals, ign, err := canonicalize(q)
	if err != nil {
		return o, nil, err
	}
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic errors; "pad" before "pad-top" overrides it
	for _, name := range names {
		v := vals[name]
		skipped, err := o.set(name, v.value)
		if pe, ok := err.(*Error); ok && v.shown != name {
			pe.Param = v.shown // name it as the client wrote it (or, f, fillcolor, rect64)
		}
		if err != nil {
			return o, nil, err
		}
		for _, s := range skipped {
			ign = append(ign, Ignored{Param: name, Shown: v.shown + "=" + s})
		}
	}
	sort.Slice(ign, func(i, j int) bool { return ign[i].Shown < ign[j].Shown })
	return o, ign, nil
}

type given struct{ value, shown string }

// canonicalize maps each implemented parameter to its canonical name and
// value (decoding base64 variants and aliases) and collects the imgix
// parameters that are not implemented.
func canonicalize(q url.Values) (map[string]given, []Ignored, error) {
	out := map[string]given{}
	var ign []Ignored
	raw := make([]string, 0, len(q))
	for name := range q {
		raw = append(raw, name)
	}
	sort.Strings(raw)
	for _, name := range raw {
		canon, b64 := canonicalName(name)
		if canon == "" {
			continue // not an imgix parameter: ignored silently, as imgix does
		}
		if !implemented[canon] {
			ign = append(ign, Ignored{Param: canon, Shown: name})
			continue
		}
		for _, v := range q[name] {
			if b64 {
				d, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
				if err != nil {
					return nil, nil, bad(name, "%q is not URL-safe base64; allowed: the value of %s in URL-safe base64", clip(v), canon)
				}
				v = string(d)
			}
			prev, dup := out[canon]
			switch {
			case dup && canon == "auto": // imgix combines repeated auto values
				out[canon] = given{prev.value + "," + v, prev.shown}
			case dup:
				return nil, nil, bad(name, "given more than once (as %s); allowed: once", strings.Join(spellings(q, canon), ", "))
			default:
				out[canon] = given{v, name}
			}
		}
	}
	return out, ign, nil
}

// canonicalName returns the imgix name of a query parameter ("" for none)
// and whether it is a base64 variant (txt64 for txt).
func canonicalName(name string) (string, bool) {
	if name == "s" {
		return "", false // the signature, checked by Verify
	}
	if c, ok := resolveAlias(name); ok {
		return c, false
	}
	if base, ok := strings.CutSuffix(name, "64"); ok {
		if c, ok := resolveAlias(base); ok && c != "auto" && c != "ch" {
			return c, true
		}
	}
	return "", false
}

func resolveAlias(name string) (string, bool) {
	if imgixNames[name] {
		return name, true
	}
	c, ok := imgixAliases[name]
	return c, ok
}

// spellings lists the names under which the query gave parameter canon.
func spellings(q url.Values, canon string) []string {
	var s []string
	for name, vs := range q {
		if c, _ := canonicalName(name); c == canon {
			for range vs {
				s = append(s, name)
			}
		}
	}
	sort.Strings(s)
	return s
}

// clip keeps echoed client input short in error messages.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
