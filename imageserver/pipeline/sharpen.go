package pipeline

// sharpen applies imgix's sharp (0-100) as libvips' unsharp mask on the
// output-sized image. imgix does not document its mapping; here the slope
// for edges grows linearly with the value (sharp=25 is libvips' default
// of 3, sharp=100 is 12) over a radius of about one output pixel per dpr,
// and libvips bounds how far an edge may brighten or darken, so large
// values add contrast at edges without halos running away.
func (p *Pipeline) sharpen(s *state) error {
	if s.opts.Sharp <= 0 {
		return nil
	}
	sigma := 0.5 * s.opts.DPR
	return vipsErr(s.img.Sharpen(sigma, 2, 0.12*s.opts.Sharp))
}
