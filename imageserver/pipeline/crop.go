package pipeline

import "math"

// crop cuts the planned region out of the stored pixels, mapping it back
// through the EXIF orientation and the shrink-on-load factor, so that
// rotation later works on the small result rather than the whole source.
func (p *Pipeline) crop(s *state) error {
	r := rawRect(s.plan.Crop, s.orient, s.header.Width, s.header.Height)
	if r == (Rect{0, 0, s.header.Width, s.header.Height}) {
		return nil
	}
	fx := float64(s.img.Width()) / float64(s.header.Width)
	fy := float64(s.img.Height()) / float64(s.header.Height)
	x0, y0 := int(math.Floor(float64(r.X)*fx)), int(math.Floor(float64(r.Y)*fy))
	x1 := min(s.img.Width(), int(math.Ceil(float64(r.X+r.W)*fx)))
	y1 := min(s.img.Height(), int(math.Ceil(float64(r.Y+r.H)*fy)))
	return vipsErr(s.img.ExtractArea(x0, y0, max(1, x1-x0), max(1, y1-y0)))
}
