package pipeline

import (
	"math"

	"github.com/hostpush/hostpush/imageserver/params"
)

// Rect is a rectangle in pixels.
type Rect struct{ X, Y, W, H int }

// Plan is the geometry of one transform, computed from the source size (as
// displayed, after EXIF orientation) and the options before any pixel is
// touched. The image is cut (Crop), resized (ScaleW x ScaleH), rotated
// within its frame (rot) or cut by entropy to ImgW x ImgH, placed at
// ImgX, ImgY on a BoxW x BoxH box (fit=fill, fillmax, clamp) and padded.
type Plan struct {
	Crop           Rect    // region of the oriented source to keep
	ScaleW, ScaleH int     // size the region is resized to
	Entropy        bool    // after resizing, cut ImgW x ImgH by entropy instead
	Rotate         float64 // rot: degrees counter-clockwise, within the frame
	RotZoom        float64 // zoom while rotating; 1 when Crop was narrowed to what the frame shows
	ImgW, ImgH     int     // the image after the entropy cut or the rotation
	BoxW, BoxH     int     // the fit box
	ImgX, ImgY     int     // where the image sits in the box
	Extend         bool    // fit=clamp: the box repeats the image's edge pixels
	Pad            params.Sides
	OutW, OutH     int // box plus padding: the output
}

// Pixels is the largest image the plan computes: the output, the resized
// region before an entropy cut or a rotation, or the zoomed rotation.
func (p Plan) Pixels() int64 {
	n := max(int64(p.OutW)*int64(p.OutH), int64(p.ScaleW)*int64(p.ScaleH))
	if p.RotZoom > 1 {
		n = max(n, int64(float64(p.ImgW)*float64(p.ImgH)*p.RotZoom*p.RotZoom))
	}
	return n
}

// MakePlan computes the geometry for a source of srcW x srcH pixels. Its
// only error is a rect that lies outside the source.
func MakePlan(srcW, srcH int, o params.Options) (Plan, error) {
	x, y, w, h, err := o.Rect.Resolve(srcW, srcH)
	if err != nil {
		return Plan{}, err
	}
	pad := scaledPad(o)
	p := fitPlan(w, h, o, pad)
	p.Crop.X += x
	p.Crop.Y += y
	if p.Entropy {
		p.ImgW, p.ImgH = p.BoxW, p.BoxH
	} else {
		p.ImgW, p.ImgH = p.ScaleW, p.ScaleH
	}
	p = rotatePlan(p, o.Rot)
	p.Pad = pad
	p.OutW, p.OutH = p.BoxW+pad.Left+pad.Right, p.BoxH+pad.Top+pad.Bottom
	return limit(p), nil
}

// scaledPad is the padding in output pixels: pad is given in the same
// units as w and h, so dpr scales it too.
func scaledPad(o params.Options) params.Sides {
	s := func(v int) int { return int(math.Round(float64(v) * o.DPR)) }
	return params.Sides{Top: s(o.Pad.Top), Right: s(o.Pad.Right), Bottom: s(o.Pad.Bottom), Left: s(o.Pad.Left)}
}

// target is the requested box in output pixels (0 for a side not given):
// w and h times dpr, completed by ar, less the padding (imgix fits the
// padded image into w x h).
func target(srcW, srcH int, o params.Options, pad params.Sides) (float64, float64) {
	tw, th := o.W.Resolve(srcW)*o.DPR, o.H.Resolve(srcH)*o.DPR
	if r := o.AR; r.IsSet() && (o.Fit == params.FitCrop || o.Fit.Fills()) && (tw == 0 || th == 0) {
		ratio, sw, sh := r.W/r.H, float64(srcW), float64(srcH)
		switch {
		case tw > 0:
			th = tw / ratio
		case th > 0:
			tw = th * ratio
		case (sw/sh > ratio) == (o.Fit == params.FitCrop): // the largest region inside the source
			tw, th = sh*ratio, sh
		default: // fill: the smallest frame around it
			tw, th = sw, sw/ratio
		}
	}
	if tw > 0 {
		tw = math.Max(1, tw-float64(pad.Left+pad.Right))
	}
	if th > 0 {
		th = math.Max(1, th-float64(pad.Top+pad.Bottom))
	}
	return tw, th
}

// fitPlan places a srcW x srcH region (coordinates relative to it) as the
// fit mode says.
func fitPlan(srcW, srcH int, o params.Options, pad params.Sides) Plan {
	sw, sh := float64(srcW), float64(srcH)
	full := Rect{0, 0, srcW, srcH}
	tw, th := target(srcW, srcH, o, pad)
	if tw == 0 && th == 0 {
		return scaled(full, sw, sh, sw, sh)
	}
	if tw == 0 || th == 0 { // one side given: keep the aspect ratio
		s := math.Max(tw/sw, th/sh)
		switch o.Fit {
		case params.FitMax, params.FitMin:
			s = math.Min(s, 1)
		case params.FitFillMax:
			return scaled(full, sw*math.Min(s, 1), sh*math.Min(s, 1), sw*s, sh*s)
		}
		return scaled(full, sw*s, sh*s, sw*s, sh*s)
	}
	switch o.Fit {
	case params.FitScale:
		return scaled(full, tw, th, tw, th)
	case params.FitCrop, params.FitMin:
		return cropPlan(srcW, srcH, tw, th, o)
	case params.FitFill, params.FitFillMax, params.FitClamp:
		s := math.Min(tw/sw, th/sh)
		if o.Fit == params.FitFillMax {
			s = math.Min(s, 1)
		}
		p := scaled(full, sw*s, sh*s, tw, th)
		p.Extend = o.Fit == params.FitClamp
		return p
	default: // clip, max
		s := math.Min(tw/sw, th/sh)
		if o.Fit == params.FitMax {
			s = math.Min(s, 1)
		}
		return scaled(full, sw*s, sh*s, sw*s, sh*s)
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
		p := scaled(Rect{0, 0, srcW, srcH}, sw*s, sh*s, tw, th)
		p.Entropy, p.ImgX, p.ImgY = true, 0, 0
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
	return scaled(r, tw, th, tw, th)
}

// scaled is a plan that resizes r to w x h, centred on a boxW x boxH box.
func scaled(r Rect, w, h, boxW, boxH float64) Plan {
	p := Plan{Crop: r, ScaleW: px(w), ScaleH: px(h), BoxW: px(boxW), BoxH: px(boxH), RotZoom: 1}
	p.ImgX, p.ImgY = (p.BoxW-p.ScaleW)/2, (p.BoxH-p.ScaleH)/2
	return p
}

// px rounds a size to whole pixels, at least one.
func px(v float64) int { return max(1, int(math.Round(v))) }

// limit shrinks a plan whose output exceeds MaxSide on a side.
func limit(p Plan) Plan {
	f := math.Min(1, math.Min(float64(params.MaxSide)/float64(p.OutW), float64(params.MaxSide)/float64(p.OutH)))
	if f == 1 {
		return p
	}
	mul := func(v int) int { return px(float64(v) * f) }
	off := func(v int) int { return int(math.Round(float64(v) * f)) }
	p.ScaleW, p.ScaleH, p.ImgW, p.ImgH, p.BoxW, p.BoxH = mul(p.ScaleW), mul(p.ScaleH), mul(p.ImgW), mul(p.ImgH), mul(p.BoxW), mul(p.BoxH)
	p.Pad = params.Sides{Top: off(p.Pad.Top), Right: off(p.Pad.Right), Bottom: off(p.Pad.Bottom), Left: off(p.Pad.Left)}
	p.BoxW = min(p.BoxW, params.MaxSide-p.Pad.Left-p.Pad.Right)
	p.BoxH = min(p.BoxH, params.MaxSide-p.Pad.Top-p.Pad.Bottom)
	p.ImgW, p.ImgH = min(p.ImgW, p.BoxW), min(p.ImgH, p.BoxH)
	if !p.Entropy && p.Rotate == 0 {
		p.ScaleW, p.ScaleH = p.ImgW, p.ImgH
	}
	p.ImgX, p.ImgY = (p.BoxW-p.ImgW)/2, (p.BoxH-p.ImgH)/2
	p.OutW, p.OutH = p.BoxW+p.Pad.Left+p.Pad.Right, p.BoxH+p.Pad.Top+p.Pad.Bottom
	return p
}

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
