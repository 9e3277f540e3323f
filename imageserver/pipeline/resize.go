package pipeline

import (
	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

// resize scales the cropped region to the planned size (in stored
// orientation) and makes the size exact: libvips rounds. Lanczos3 keeps
// detail; when a blur of a pixel or more follows, that detail is blurred
// away anyway and the linear kernel does the same job for a third less CPU.
func (p *Pipeline) resize(s *state) error {
	w, h := s.plan.ScaleW, s.plan.ScaleH
	if transposes(s.orient) {
		w, h = h, w
	}
	k := vips.KernelLanczos3
	if BlurSigma(s.opts.Blur, s.opts.DPR) >= 1 {
		k = vips.KernelLinear
	}
	return vipsErr(resizeExact(s.img, w, h, k))
}

func resizeExact(img *vips.ImageRef, w, h int, k vips.Kernel) error {
	if img.Width() == w && img.Height() == h {
		return nil
	}
	if err := img.ResizeWithVScale(float64(w)/float64(img.Width()), float64(h)/float64(img.Height()), k); err != nil {
		return err
	}
	if img.Width() == w && img.Height() == h {
		return nil
	}
	if img.Width() > w || img.Height() > h {
		if err := img.ExtractArea(0, 0, min(w, img.Width()), min(h, img.Height())); err != nil {
			return err
		}
	}
	if img.Width() < w || img.Height() < h {
		return img.Embed(0, 0, w, h, vips.ExtendCopy)
	}
	return nil
}

// orient applies the orientation (the source's EXIF one, or orient's) to
// the (now small) image.
func (p *Pipeline) orient(s *state) error {
	if s.orient == 1 {
		return nil
	}
	if s.img.Orientation() != s.orient {
		if err := s.img.SetOrientation(s.orient); err != nil {
			return vipsErr(err)
		}
	}
	return vipsErr(s.img.AutoRotate())
}

// entropy cuts the output from the resized image where libvips finds the
// most detail (crop=entropy).
func (p *Pipeline) entropy(s *state) error {
	if !s.plan.Entropy {
		return nil
	}
	if err := s.img.SmartCrop(s.plan.ImgW, s.plan.ImgH, vips.InterestingEntropy); err != nil {
		return vipsErr(err)
	}
	s.cut = true
	return p.rotate(s)
}

// flip mirrors the output (flip=h, v or hv).
func (p *Pipeline) flip(s *state) error {
	if s.opts.Flip&params.FlipH != 0 {
		if err := s.img.Flip(vips.DirectionHorizontal); err != nil {
			return vipsErr(err)
		}
	}
	if s.opts.Flip&params.FlipV != 0 {
		return vipsErr(s.img.Flip(vips.DirectionVertical))
	}
	return nil
}
