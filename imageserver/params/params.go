// Package params parses and normalizes imgix-style image URL parameters and
// checks imgix request signatures. It knows nothing about pixels: the
// pipeline turns Options into work.
package params

import (
	"fmt"
	"math"
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
	FitClip  Fit = "clip"  // fit inside the box, keep aspect ratio (default)
	FitCrop  Fit = "crop"  // fill the box, cut the overflow as crop says
	FitMax   Fit = "max"   // like clip, never enlarges
	FitMin   Fit = "min"   // like crop, never enlarges
	FitScale Fit = "scale" // stretch to the box exactly
	FitFill  Fit = "fill"  // fit inside the box, pad the rest
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
	FormatJPEG Format = "jpg"
	FormatPNG  Format = "png"
	FormatWebP Format = "webp"
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

// Options are the normalized parameters of one request.
type Options struct {
	W, H       Dim
	Fit        Fit
	Crop       Crop
	Blur       int
	Quality    int
	Format     Format // empty: same as the source (or negotiated with AutoFormat)
	AutoFormat bool
	DPR        float64
	Flip       Flip
}

// Defaults returns the options of a request without parameters.
func Defaults() Options {
	return Options{Fit: FitClip, Quality: 75, DPR: 1}
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

// Parse parses the query of an image URL. Unknown parameters are ignored, as
// imgix does; a known parameter given twice or out of range is an error.
func Parse(q url.Values) (Options, error) {
	o := Defaults()
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // report errors deterministically
	for _, name := range names {
		vals := q[name]
		if len(vals) > 1 && known(name) {
			return o, bad(name, "given %d times; allowed: once", len(vals))
		}
		if err := o.set(name, vals[0]); err != nil {
			return o, err
		}
	}
	return o, nil
}

func known(name string) bool {
	switch name {
	case "w", "h", "fit", "crop", "blur", "q", "fm", "auto", "dpr", "flip", "s":
		return true
	}
	return false
}

func (o *Options) set(name, v string) error {
	switch name {
	case "w":
		return setDim(&o.W, name, v)
	case "h":
		return setDim(&o.H, name, v)
	case "fit":
		return o.setFit(v)
	case "crop":
		return o.setCrop(v)
	case "blur":
		return setInt(&o.Blur, name, v, 0, MaxBlur)
	case "q":
		return setInt(&o.Quality, name, v, 1, 100)
	case "fm":
		return o.setFormat(v)
	case "auto":
		return o.setAuto(v)
	case "dpr":
		return o.setDPR(v)
	case "flip":
		return o.setFlip(v)
	}
	return nil // "s" is checked by Verify; others are ignored like imgix does
}

func setDim(d *Dim, name, v string) error {
	const allowed = "an integer 1-8192 or a fraction between 0 and 1"
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return bad(name, "%q is not a number; allowed: %s", clip(v), allowed)
	}
	switch {
	case f > 0 && f < 1:
		*d = Dim{Frac: f}
	case f >= 1 && f <= MaxSide && f == math.Trunc(f):
		*d = Dim{Px: int(f)}
	default:
		return bad(name, "%s is out of range; allowed: %s", clip(v), allowed)
	}
	return nil
}

func setInt(dst *int, name, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return bad(name, "%q is not an integer; allowed: %d-%d", clip(v), lo, hi)
	}
	if n < lo || n > hi {
		return bad(name, "%d is out of range; allowed: %d-%d", n, lo, hi)
	}
	*dst = n
	return nil
}

func (o *Options) setFit(v string) error {
	switch f := Fit(v); f {
	case FitClip, FitCrop, FitMax, FitMin, FitScale, FitFill:
		o.Fit = f
		return nil
	}
	return bad("fit", "unknown value %q; allowed: clip, crop, max, min, scale, fill", clip(v))
}

func (o *Options) setCrop(v string) error {
	var c Crop
	for _, part := range strings.Split(v, ",") {
		switch part {
		case "top":
			c |= CropTop
		case "bottom":
			c |= CropBottom
		case "left":
			c |= CropLeft
		case "right":
			c |= CropRight
		case "center":
		case "entropy":
			c |= CropEntropy
		default:
			return bad("crop", "unknown value %q; allowed: a comma list of center, top, bottom, left, right, entropy", clip(part))
		}
	}
	if c&(CropTop|CropBottom) == CropTop|CropBottom || c&(CropLeft|CropRight) == CropLeft|CropRight {
		return bad("crop", "%q names opposite sides; allowed: at most one of top/bottom and one of left/right", clip(v))
	}
	o.Crop = c
	return nil
}

func (o *Options) setFormat(v string) error {
	switch v {
	case "jpg", "jpeg":
		o.Format = FormatJPEG
	case "png":
		o.Format = FormatPNG
	case "webp":
		o.Format = FormatWebP
	default:
		return bad("fm", "unknown format %q; allowed: jpg, png, webp", clip(v))
	}
	return nil
}

func (o *Options) setAuto(v string) error {
	for _, part := range strings.Split(v, ",") {
		switch part {
		case "format":
			o.AutoFormat = true
		case "compress", "enhance", "redeye", "true":
			// accepted for imgix compatibility, no effect here
		default:
			return bad("auto", "unknown value %q; allowed: format (compress, enhance, redeye are accepted and ignored)", clip(part))
		}
	}
	return nil
}

func (o *Options) setDPR(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 1 || f > 5 {
		return bad("dpr", "%q is not allowed; allowed: a number from 1 to 5", clip(v))
	}
	o.DPR = f
	return nil
}

func (o *Options) setFlip(v string) error {
	switch v {
	case "h":
		o.Flip = FlipH
	case "v":
		o.Flip = FlipV
	case "hv", "vh":
		o.Flip = FlipH | FlipV
	default:
		return bad("flip", "unknown value %q; allowed: h, v, hv", clip(v))
	}
	return nil
}

// clip keeps echoed client input short in error messages.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Canonical returns a stable text form of the options for cache keys: two
// requests that produce the same image have the same canonical form. fm is
// the output format after negotiation.
func (o Options) Canonical(fm Format) string {
	var b strings.Builder
	fmt.Fprintf(&b, "w=%s&h=%s&fit=%s", o.W, o.H, o.Fit)
	if o.Fit == FitCrop || o.Fit == FitMin {
		fmt.Fprintf(&b, "&crop=%d", o.Crop)
	}
	fmt.Fprintf(&b, "&blur=%d&q=%d&fm=%s&dpr=%s&flip=%d",
		o.Blur, o.Quality, fm, strconv.FormatFloat(o.DPR, 'f', -1, 64), o.Flip)
	return b.String()
}
