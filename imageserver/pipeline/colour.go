package pipeline

import "github.com/davidbyttow/govips/v2/vips"

// colour converts the image to sRGB: through its embedded ICC profile when
// it has one (done on the resized image, where it is cheap), else from its
// colour space (CMYK, grey, 16-bit).
func (p *Pipeline) colour(s *state) error {
	if s.img.HasICCProfile() {
		return vipsErr(s.img.TransformICCProfile(srgbProfile))
	}
	if s.img.Interpretation() == vips.InterpretationSRGB && s.img.BandFormat() == vips.BandFormatUchar {
		return nil
	}
	return vipsErr(s.img.ToColorSpace(vips.InterpretationSRGB))
}
