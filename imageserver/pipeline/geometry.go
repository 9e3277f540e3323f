package pipeline

import (
	"math"

	"github.com/hostpush/hostpush/imageserver/params"
)

// Rect is a rectangle in pixels.
type Rect struct{ X, Y, W, H int }

// Plan is the geometry of one transform, computed from the source size (as
// displayed, after EXIF orientation) and the options before any pixel is
// touched.
type Plan struct {
	Crop           Rect // region of the oriented source to keep
	ScaleW, ScaleH int  // size the region is resized to
	Entropy        bool // after resizing, cut OutW x OutH by entropy instead
	OutW, OutH     int  // size of the output canvas
	PadX, PadY     int  // where the resized image sits on the canvas (fit=fill)
}

// MakePlan computes the geometry for a source of srcW x srcH pixels.
func MakePlan(srcW, srcH int, o params.Options) Plan {
	sw, sh := float64(srcW), float64(srcH)
	full := Rect{0, 0, srcW, srcH}
	if !o.W.IsSet() && !o.H.IsSet() {
		return Plan{Crop: full, ScaleW: srcW, ScaleH: srcH, OutW: srcW, OutH: srcH}
	}
	tw, th := o.W.Resolve(srcW)*o.DPR, o.H.Resolve(srcH)*o.DPR
	if tw == 0 || th == 0 { // one side given: keep the aspect ratio
		s := math.Max(tw/sw, th/sh)
		if o.Fit == params.FitMax || o.Fit == params.FitMin {
			s = math.Min(s, 1)
		}
		return limit(scaled(full, sw*s, sh*s, sw*s, sh*s, 0, 0))
	}
	switch o.Fit {
	case params.FitScale:
		return limit(scaled(full, tw, th, tw, th, 0, 0))
	case params.FitCrop, params.FitMin:
		return limit(cropPlan(srcW, srcH, tw, th, o))
	case params.FitFill:
		s := math.Min(tw/sw, th/sh)
		w, h := sw*s, sh*s
		return limit(scaled(full, w, h, tw, th, (tw-w)/2, (th-h)/2))
	default: // clip, max
		s := math.Min(tw/sw, th/sh)
		if o.Fit == params.FitMax {
			s = math.Min(s, 1)
		}
		return limit(scaled(full, sw*s, sh*s, sw*s, sh*s, 0, 0))
	}
}

func cropPlan(srcW, srcH int, tw, th float64, o params.Options) Plan {
	sw, sh := float64(srcW), float64(srcH)
	s := math.Max(tw/sw, th/sh)
	if o.Fit == params.FitMin && s > 1 {
		// never enlarge: the largest region with the requested aspect ratio
		k := math.Min(sw/tw, sh/th)
		tw, th, s = tw*k, th*k, 1
	}
	if o.Crop&params.CropEntropy != 0 {
		p := scaled(Rect{0, 0, srcW, srcH}, sw*s, sh*s, tw, th, 0, 0)
		p.Entropy = true
		return p
	}
	cw, ch := px(tw/s), px(th/s)
	cw, ch = min(cw, srcW), min(ch, srcH)
	r := Rect{W: cw, H: ch, X: (srcW - cw) / 2, Y: (srcH - ch) / 2}
	switch {
	case o.Crop&params.CropLeft != 0:
		r.X = 0
	case o.Crop&params.CropRight != 0:
		r.X = srcW - cw
	}
	switch {
	case o.Crop&params.CropTop != 0:
		r.Y = 0
	case o.Crop&params.CropBottom != 0:
		r.Y = srcH - ch
	}
	return scaled(r, tw, th, tw, th, 0, 0)
}

func scaled(r Rect, w, h, outW, outH, padX, padY float64) Plan {
	return Plan{Crop: r, ScaleW: px(w), ScaleH: px(h), OutW: px(outW), OutH: px(outH), PadX: int(math.Round(padX)), PadY: int(math.Round(padY))}
}

// limit shrinks a plan whose output exceeds MaxSide on a side.
func limit(p Plan) Plan {
	f := math.Min(1, math.Min(float64(params.MaxSide)/float64(p.OutW), float64(params.MaxSide)/float64(p.OutH)))
	if f == 1 {
		return p
	}
	mul := func(v int) int { return px(float64(v) * f) }
	p.ScaleW, p.ScaleH, p.OutW, p.OutH = mul(p.ScaleW), mul(p.ScaleH), min(mul(p.OutW), params.MaxSide), min(mul(p.OutH), params.MaxSide)
	p.PadX, p.PadY = (p.OutW-p.ScaleW)/2, (p.OutH-p.ScaleH)/2
	return p
}

// px rounds a size to whole pixels, at least one.
func px(v float64) int { return max(1, int(math.Round(v))) }

// rawRect maps a rectangle of the displayed image back to the stored pixels
// of an image with EXIF orientation o and stored size w x h.
func rawRect(r Rect, o, w, h int) Rect {
	switch o {
	case 2:
		return Rect{w - r.X - r.W, r.Y, r.W, r.H}
	case 3:
		return Rect{w - r.X - r.W, h - r.Y - r.H, r.W, r.H}
	case 4:
		return Rect{r.X, h - r.Y - r.H, r.W, r.H}
	case 5:
		return Rect{r.Y, r.X, r.H, r.W}
	case 6:
		return Rect{r.Y, h - r.X - r.W, r.H, r.W}
	case 7:
		return Rect{w - r.Y - r.H, h - r.X - r.W, r.H, r.W}
	case 8:
		return Rect{w - r.Y - r.H, r.X, r.H, r.W}
	}
	return r
}

// transposes reports whether orientation o swaps width and height.
func transposes(o int) bool { return o >= 5 && o <= 8 }
