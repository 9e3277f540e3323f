package pipeline

import (
	"math"

	"github.com/davidbyttow/govips/v2/vips"
)

// rotatePlan plans rot with imgix's semantics: the image turns inside its
// frame (the size does not change) and is zoomed just enough to cover it.
// Instead of zooming the resized image (losing detail), the source region
// is narrowed to what the turned frame shows and resized to the frame's
// bounding box, which the rotate step turns and cuts to the frame. An
// entropy cut picks the frame only after resizing, so there the rotate
// step zooms instead (RotZoom).
func rotatePlan(p Plan, deg float64) Plan {
	if deg == 0 {
		return p
	}
	fw, fh := float64(p.ImgW), float64(p.ImgH)
	c, s := absCosSin(deg)
	bw, bh := fw*c+fh*s, fw*s+fh*c // the frame turned back: what must be there before turning
	zoom := math.Max(bw/fw, bh/fh)
	p.Rotate = deg
	if p.Entropy {
		p.RotZoom = zoom
		return p
	}
	cw := math.Max(1, float64(p.Crop.W)*bw/zoom/fw)
	ch := math.Max(1, float64(p.Crop.H)*bh/zoom/fh)
	p.Crop = Rect{
		X: p.Crop.X + int(math.Round((float64(p.Crop.W)-cw)/2)),
		Y: p.Crop.Y + int(math.Round((float64(p.Crop.H)-ch)/2)),
		W: min(p.Crop.W, px(cw)), H: min(p.Crop.H, px(ch)),
	}
	p.ScaleW, p.ScaleH = px(bw), px(bh)
	return p
}

// absCosSin returns |cos| and |sin| of deg, exact for multiples of 90.
func absCosSin(deg float64) (float64, float64) {
	switch deg {
	case 90, 270:
		return 0, 1
	case 180:
		return 1, 0
	}
	r := deg * math.Pi / 180
	return math.Abs(math.Cos(r)), math.Abs(math.Sin(r))
}

// rotate turns the image counter-clockwise by rot and cuts the frame from
// the middle; multiples of 90 degrees move pixels without resampling.
func (p *Pipeline) rotate(s *state) error {
	if s.plan.Rotate == 0 || s.plan.Entropy && !s.cut {
		return nil // an entropy plan rotates after its cut
	}
	if err := turn(s.img, s.plan.Rotate, s.plan.RotZoom); err != nil {
		return vipsErr(err)
	}
	w, h := s.plan.ImgW, s.plan.ImgH
	x, y := (s.img.Width()-w)/2, (s.img.Height()-h)/2
	if x < 0 || y < 0 {
		return vipsErr(resizeExact(s.img, w, h, vips.KernelLinear))
	}
	return vipsErr(s.img.ExtractArea(x, y, w, h))
}

func turn(img *vips.ImageRef, deg, zoom float64) error {
	if zoom == 1 {
		switch deg { // libvips' angles are clockwise
		case 90:
			return img.Rotate(vips.Angle270)
		case 180:
			return img.Rotate(vips.Angle180)
		case 270:
			return img.Rotate(vips.Angle90)
		}
	}
	bg := &vips.ColorRGBA{R: 0, G: 0, B: 0, A: 0}
	return img.Similarity(zoom, -deg, bg, 0, 0, 0, 0)
}
