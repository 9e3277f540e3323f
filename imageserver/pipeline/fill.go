package pipeline

import "github.com/davidbyttow/govips/v2/vips"

// fill pads the image onto the output canvas (fit=fill), white or, for
// formats with alpha, transparent.
func (p *Pipeline) fill(s *state) error {
	if s.img.Width() == s.plan.OutW && s.img.Height() == s.plan.OutH {
		return nil
	}
	bg := &vips.ColorRGBA{R: 255, G: 255, B: 255, A: 255}
	if s.format != "jpg" {
		if !s.img.HasAlpha() {
			if err := s.img.AddAlpha(); err != nil {
				return vipsErr(err)
			}
		}
		bg.A = 0
	}
	return vipsErr(s.img.EmbedBackgroundRGBA(s.plan.PadX, s.plan.PadY, s.plan.OutW, s.plan.OutH, bg))
}
