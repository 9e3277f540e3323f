package pipeline

import (
	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

// box places the image on the fit box (fit=fill, fillmax, clamp): the
// excess is fill-color, or transparent where the output format has alpha
// and white where it has not; fit=clamp repeats the image's edge pixels.
func (p *Pipeline) box(s *state) error {
	pl := s.plan
	if s.img.Width() == pl.BoxW && s.img.Height() == pl.BoxH {
		return nil
	}
	if pl.Extend {
		return vipsErr(s.img.Embed(pl.ImgX, pl.ImgY, pl.BoxW, pl.BoxH, vips.ExtendCopy))
	}
	return embed(s, pl.ImgX, pl.ImgY, pl.BoxW, pl.BoxH, s.opts.FillColor)
}

// pad adds imgix's padding around the box, in the bg colour when it is
// opaque, else transparent (white for formats without alpha); the
// background step then lays a partly transparent bg under it.
func (p *Pipeline) pad(s *state) error {
	pl := s.plan
	if pl.Pad == (params.Sides{}) {
		return nil
	}
	c := s.opts.BG
	if c.A < 255 {
		c = params.Colour{}
	}
	return embed(s, pl.Pad.Left, pl.Pad.Top, pl.OutW, pl.OutH, c)
}

// embed puts the image at x, y on a w x h canvas of colour c, or when c is
// not set, of transparent (white for formats without alpha).
func embed(s *state, x, y, w, h int, c params.Colour) error {
	bg := &vips.ColorRGBA{R: c.R, G: c.G, B: c.B, A: c.A}
	if !c.Set {
		bg = &vips.ColorRGBA{R: 255, G: 255, B: 255, A: 255}
		if hasAlpha(s.format) {
			bg.A = 0
		}
	}
	if bg.A < 255 && !s.img.HasAlpha() {
		if err := s.img.AddAlpha(); err != nil {
			return vipsErr(err)
		}
	}
	return vipsErr(s.img.EmbedBackgroundRGBA(x, y, w, h, bg))
}

func hasAlpha(fm params.Format) bool {
	return fm == params.FormatPNG || fm == params.FormatWebP || fm == params.FormatAVIF
}

// background lays the bg colour under transparent areas (bg), as imgix
// does for padded and partly transparent images.
func (p *Pipeline) background(s *state) error {
	c := s.opts.BG
	if !c.Set || c.A == 0 || !s.img.HasAlpha() {
		return nil
	}
	if c.A == 255 {
		return vipsErr(s.img.Flatten(&vips.Color{R: c.R, G: c.G, B: c.B}))
	}
	under, err := canvas(s.img.Width(), s.img.Height(), c)
	if err != nil {
		return vipsErr(err)
	}
	if err := under.Composite(s.img, vips.BlendModeOver, 0, 0); err != nil {
		under.Close()
		return vipsErr(err)
	}
	s.img.Close()
	s.img = under
	return nil
}

// canvas is a w x h sRGB image with alpha of one colour.
func canvas(w, h int, c params.Colour) (*vips.ImageRef, error) {
	img, err := vips.Black(w, h)
	if err != nil {
		return nil, err
	}
	ok := func(err error) error {
		if err != nil {
			img.Close()
		}
		return err
	}
	if err := ok(img.BandJoinConst([]float64{0, 0, 0})); err != nil {
		return nil, err
	}
	if err := ok(img.Linear([]float64{0, 0, 0, 0}, []float64{float64(c.R), float64(c.G), float64(c.B), float64(c.A)})); err != nil {
		return nil, err
	}
	if err := ok(img.Cast(vips.BandFormatUchar)); err != nil {
		return nil, err
	}
	out, err := img.CopyChangingInterpretation(vips.InterpretationSRGB)
	img.Close()
	return out, err
}
