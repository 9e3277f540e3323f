package pipeline

import (
	"math"

	"github.com/davidbyttow/govips/v2/vips"
)

// BlurSigma maps the imgix blur value (0-2000) to the standard deviation of
// the Gaussian in output pixels: sigma = blur / 2 * dpr, so the look does
// not change with the device pixel ratio. blur=4 is sigma 2; blur=2000 is a
// sigma of 1000 px, which flattens any output to its average colour.
func BlurSigma(blur int, dpr float64) float64 { return float64(blur) / 2 * dpr }

// directSigma is the largest sigma blurred at full size: a Gaussian costs
// time in proportion to sigma (libvips' gaussblur at sigma 100 on 1024x1024
// takes 2.5 s), so larger ones run on a copy shrunk by sigma/directSigma and
// scaled back up, which costs the same whatever the sigma.
const directSigma = 2.0

// blur applies the Gaussian blur with a cost bounded for any value.
func (p *Pipeline) blur(s *state) error {
	sigma := BlurSigma(s.opts.Blur, s.opts.DPR)
	if sigma < 0.3 {
		return nil
	}
	if sigma <= directSigma {
		return vipsErr(s.img.GaussianBlur(sigma, 0.2))
	}
	out, err := blurShrunk(s.img, sigma)
	if err != nil {
		return vipsErr(err)
	}
	s.img.Close()
	s.img = out
	return nil
}

// blurShrunk returns img blurred by sigma through a shrunk copy: shrink by
// sigma/directSigma, blur that by directSigma, render it, scale it back up.
func blurShrunk(img *vips.ImageRef, sigma float64) (*vips.ImageRef, error) {
	w, h := img.Width(), img.Height()
	k := sigma / directSigma
	sw, sh := max(1, int(math.Round(float64(w)/k))), max(1, int(math.Round(float64(h)/k)))
	small, err := img.Copy()
	if err != nil {
		return nil, err
	}
	defer small.Close()
	if err := resizeExact(small, sw, sh, vips.KernelLinear); err != nil {
		return nil, err
	}
	if min(sw, sh) >= 8 {
		if err := small.GaussianBlur(directSigma, 0.2); err != nil {
			return nil, err
		}
	}
	out, err := materialize(small)
	if err != nil {
		return nil, err
	}
	if err := resizeExact(out, w, h, vips.KernelLinear); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}
