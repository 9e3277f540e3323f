package params

import (
	"fmt"
	"strconv"
	"strings"
)

// Canonical returns a stable text form of the options for cache keys: two
// requests that produce the same image have the same canonical form. fm is
// the output format after negotiation. Parameters that cannot change the
// output in their context (crop without a cropping fit, fill-color without
// a filling fit, lossless for a format without a lossless mode) are left out.
func (o Options) Canonical(fm Format) string {
	var b strings.Builder
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	fmt.Fprintf(&b, "w=%s&h=%s&fit=%s&rect=%s", o.W, o.H, o.Fit, o.Rect)
	if o.Fit == FitCrop || o.Fit == FitMin {
		fmt.Fprintf(&b, "&crop=%d", o.Crop)
	}
	if o.AR.IsSet() && (o.Fit == FitCrop || o.Fit.Fills()) {
		fmt.Fprintf(&b, "&ar=%s", num(o.AR.W/o.AR.H))
	}
	if o.Fit == FitFill || o.Fit == FitFillMax {
		fmt.Fprintf(&b, "&fill=%s", o.FillColor)
	}
	fmt.Fprintf(&b, "&blur=%d&sharp=%s&rot=%s&or=%d&flip=%d&bg=%s&pad=%d,%d,%d,%d",
		o.Blur, num(o.Sharp), num(o.Rot), o.Orient, o.Flip, o.BG, o.Pad.Top, o.Pad.Right, o.Pad.Bottom, o.Pad.Left)
	fmt.Fprintf(&b, "&q=%d&fm=%s&dpr=%s", o.QualityFor(fm), fm, num(o.DPR))
	if o.Lossless && fm == FormatWebP {
		b.WriteString("&lossless=1")
	}
	return b.String()
}

// Fills reports whether the fit puts the image on a box larger than it
// (fill, fillmax, clamp).
func (f Fit) Fills() bool { return f == FitFill || f == FitFillMax || f == FitClamp }
