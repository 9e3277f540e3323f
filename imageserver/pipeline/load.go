package pipeline

import (
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

// load opens the source lazily, plans the geometry in displayed (oriented)
// coordinates and, for JPEG, reopens it with the largest DCT shrink-on-load
// factor that still leaves at least the planned pixels: decoding at 1/2 or
// 1/4 size is most of the saving (libvips' thumbnail call skips it for a
// 2.95x reduction).
func (p *Pipeline) load(s *state) error {
	img, err := vips.LoadImageFromBuffer(s.src, vips.NewImportParams())
	if err != nil {
		return vipsErr(err)
	}
	if !s.header.matches(img.Width(), img.Height()) {
		img.Close()
		return &SourceError{Msg: "source image header disagrees with its data"}
	}
	s.orient = img.Orientation()
	if s.orient < 1 || s.orient > 8 {
		s.orient = 1
	}
	if s.opts.Orient != 0 {
		s.orient = s.opts.Orient
	}
	if err := s.planFor(img.Width(), img.Height(), p.cfg.outputLimit(s.format)); err != nil {
		img.Close()
		return err
	}
	shrink := s.shrinkFactor()
	if shrink == 1 {
		s.img = img
		return nil
	}
	img.Close()
	ip := vips.NewImportParams()
	ip.JpegShrinkFactor.Set(shrink)
	if s.img, err = vips.LoadImageFromBuffer(s.src, ip); err != nil {
		return vipsErr(err)
	}
	return nil
}

// planFor plans the transform of a w x h (stored) image and checks the
// pixels it would compute against the output limit, before any decoding.
func (s *state) planFor(w, h int, lim pixelLimit) error {
	if transposes(s.orient) {
		w, h = h, w
	}
	var err error
	if s.plan, err = MakePlan(w, h, s.opts); err != nil {
		return err
	}
	if n := s.plan.Pixels(); n > lim.pixels {
		return &LimitError{Msg: fmt.Sprintf("the output (%dx%d) needs %d pixels; allowed: at most %d (%s)",
			s.plan.OutW, s.plan.OutH, n, lim.pixels, lim.name)}
	}
	return nil
}

// pixelLimit is an output pixel limit and the setting that gives it.
type pixelLimit struct {
	pixels int64
	name   string
}

func (c Config) outputLimit(fm params.Format) pixelLimit {
	if fm == params.FormatAVIF {
		return pixelLimit{c.MaxAVIFOutputPixels, "limits.max-avif-output-pixels"}
	}
	return pixelLimit{c.MaxOutputPixels, "limits.max-output-pixels"}
}

// shrinkFactor picks 8, 4, 2 or 1 for a JPEG source.
func (s *state) shrinkFactor() int {
	if s.header.Format != "jpeg" {
		return 1
	}
	c := s.plan.Crop
	sw, sh := s.plan.ScaleW, s.plan.ScaleH
	if transposes(s.orient) {
		sw, sh = sh, sw
		c.W, c.H = c.H, c.W
	}
	f := min(float64(c.W)/float64(sw), float64(c.H)/float64(sh))
	for _, k := range []int{8, 4, 2} {
		if f >= float64(k) {
			return k
		}
	}
	return 1
}

func checkSize(img *vips.ImageRef, w, h int) error {
	if img.Width() != w || img.Height() != h {
		return fmt.Errorf("image is %dx%d, want %dx%d", img.Width(), img.Height(), w, h)
	}
	return nil
}
