package params

import (
	"math"
	"strconv"
	"strings"
)

// implemented are the imgix parameters Options carries (canonical names).
var implemented = set("w", "h", "fit", "crop", "rect", "ar", "blur", "sharp", "rot", "orient", "flip",
	"fill", "fill-color", "bg", "pad", "pad-top", "pad-right", "pad-bottom", "pad-left",
	"q", "fm", "auto", "lossless", "dpr")

// set applies one parameter. It returns the values of it that imgix knows
// and this server does not implement (they are ignored).
func (o *Options) set(name, v string) ([]string, error) {
	switch name {
	case "w":
		return nil, setDim(&o.W, name, v)
	case "h":
		return nil, setDim(&o.H, name, v)
	case "fit":
		return o.setFit(v)
	case "crop":
		return o.setCrop(v)
	case "rect":
		return nil, o.Rect.parse(v)
	case "ar":
		return nil, o.setAR(v)
	case "blur":
		return nil, setInt(&o.Blur, name, v, 0, MaxBlur)
	case "sharp":
		return nil, setFloat(&o.Sharp, name, v, 0, 100, "a number from 0 to 100")
	case "rot":
		return nil, o.setRot(v)
	case "orient":
		return nil, o.setOrient(v)
	case "flip":
		return nil, o.setFlip(v)
	case "fill":
		return setFill(v)
	case "fill-color":
		return nil, o.FillColor.parse(name, v)
	case "bg":
		return nil, o.BG.parse(name, v)
	case "pad", "pad-top", "pad-right", "pad-bottom", "pad-left":
		return nil, o.setPad(name, v)
	case "q":
		o.QualitySet = true
		return nil, setInt(&o.Quality, name, v, 0, 100)
	case "fm":
		return o.setFormat(v)
	case "auto":
		return o.setAuto(v)
	case "lossless":
		return nil, o.setLossless(v)
	case "dpr":
		return nil, o.setDPR(v)
	}
	return nil, nil
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

// setFloat accepts lo <= v <= hi.
func setFloat(dst *float64, name, v string, lo, hi float64, allowed string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return bad(name, "%q is not allowed; allowed: %s", clip(v), allowed)
	}
	*dst = f
	return nil
}

func (o *Options) setFit(v string) ([]string, error) {
	switch f := Fit(v); f {
	case FitClip, FitCrop, FitMax, FitMin, FitScale, FitFill, FitFillMax, FitClamp:
		o.Fit = f
		return nil, nil
	case "facearea":
		return []string{v}, nil // needs face detection; the default fit applies
	}
	return nil, bad("fit", "unknown value %q; allowed: clip, crop, max, min, scale, fill, fillmax, clamp", clip(v))
}

func (o *Options) setCrop(v string) ([]string, error) {
	var c Crop
	var skipped []string
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
		case "faces", "edges", "focalpoint":
			skipped = append(skipped, part)
		default:
			return nil, bad("crop", "unknown value %q; allowed: a comma list of center, top, bottom, left, right, entropy", clip(part))
		}
	}
	if c&(CropTop|CropBottom) == CropTop|CropBottom || c&(CropLeft|CropRight) == CropLeft|CropRight {
		return nil, bad("crop", "%q names opposite sides; allowed: at most one of top/bottom and one of left/right", clip(v))
	}
	o.Crop = c
	return skipped, nil
}

func (o *Options) setAR(v string) error {
	const allowed = "W:H with positive numbers, such as 16:9 or 0.85:1, at most 8192:1 either way"
	ws, hs, ok := strings.Cut(v, ":")
	w, err1 := strconv.ParseFloat(ws, 64)
	h, err2 := strconv.ParseFloat(hs, 64)
	if !ok || err1 != nil || err2 != nil || !(w > 0) || !(h > 0) || math.IsInf(w, 0) || math.IsInf(h, 0) {
		return bad("ar", "%q is not allowed; allowed: %s", clip(v), allowed)
	}
	if r := w / h; r > MaxSide || r < 1.0/MaxSide {
		return bad("ar", "%q is out of range; allowed: %s", clip(v), allowed)
	}
	o.AR = Ratio{W: w, H: h}
	return nil
}

func (o *Options) setRot(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= 360 {
		return bad("rot", "%q is not allowed; allowed: degrees counter-clockwise, a number from 0 to 359", clip(v))
	}
	o.Rot = f
	return nil
}

// setOrient takes an EXIF orientation 1-8, 0 (do not rotate: as stored) or
// the degree aliases 90, 180, 270 (EXIF 6, 3 and 8).
func (o *Options) setOrient(v string) error {
	n, err := strconv.Atoi(v)
	switch {
	case err == nil && n == 0:
		o.Orient = 1
	case err == nil && n >= 1 && n <= 8:
		o.Orient = n
	case v == "90":
		o.Orient = 6
	case v == "180":
		o.Orient = 3
	case v == "270":
		o.Orient = 8
	default:
		return bad("orient", "%q is not allowed; allowed: 0-8 (EXIF orientations, 0 ignores the source's) or 90, 180, 270", clip(v))
	}
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

// setFill accepts imgix's fill modes; solid is the one implemented (and
// the default), the others fall back to it.
func setFill(v string) ([]string, error) {
	switch v {
	case "solid":
		return nil, nil
	case "blur", "gen", "generative", "gradient":
		return []string{v}, nil
	}
	return nil, bad("fill", "unknown value %q; allowed: solid (blur, gen, gradient are accepted and fall back to solid)", clip(v))
}

func (o *Options) setPad(name, v string) error {
	var n int
	if err := setInt(&n, name, v, 0, MaxSide); err != nil {
		return err
	}
	switch name {
	case "pad":
		o.Pad = Sides{n, n, n, n}
	case "pad-top":
		o.Pad.Top = n
	case "pad-right":
		o.Pad.Right = n
	case "pad-bottom":
		o.Pad.Bottom = n
	case "pad-left":
		o.Pad.Left = n
	}
	return nil
}

func (o *Options) setFormat(v string) ([]string, error) {
	switch v {
	case "jpg", "jpeg":
		o.Format = FormatJPEG
	case "pjpg":
		o.Format = FormatPJPEG
	case "png":
		o.Format = FormatPNG
	case "webp":
		o.Format = FormatWebP
	case "avif":
		o.Format = FormatAVIF
	case "gif", "jp2", "json", "jxr", "mp4", "png8", "png32", "webm", "blurhash":
		return []string{v}, nil // the default format applies
	default:
		return nil, bad("fm", "unknown format %q; allowed: jpg, pjpg, png, webp, avif", clip(v))
	}
	return nil, nil
}

func (o *Options) setAuto(v string) ([]string, error) {
	var skipped []string
	for _, part := range strings.Split(v, ",") {
		switch part {
		case "format":
			o.AutoFormat = true
		case "compress":
			o.Compress = true
		case "enhance", "redeye", "true":
			skipped = append(skipped, part)
		default:
			return nil, bad("auto", "unknown value %q; allowed: format, compress (enhance, redeye are accepted and ignored)", clip(part))
		}
	}
	return skipped, nil
}

func (o *Options) setLossless(v string) error {
	switch v {
	case "1", "true":
		o.Lossless = true
	case "0", "false":
		o.Lossless = false
	default:
		return bad("lossless", "%q is not allowed; allowed: 1, 0, true, false", clip(v))
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
