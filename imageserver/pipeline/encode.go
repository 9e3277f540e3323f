package pipeline

import (
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

// encode renders the graph built so far and encodes it without metadata.
func (p *Pipeline) encode(s *state) error {
	if err := checkSize(s.img, s.plan.OutW, s.plan.OutH); err != nil {
		return fmt.Errorf("planned size: %w", err)
	}
	// libvips 8.14's webpsave writes the EXIF fields despite strip; drop
	// them for every format (the pixels are already upright and sRGB)
	if err := s.img.RemoveMetadata(); err != nil {
		return vipsErr(err)
	}
	if err := s.img.RemoveOrientation(); err != nil {
		return vipsErr(err)
	}
	var (
		body []byte
		err  error
		ct   string
	)
	switch s.format {
	case params.FormatPNG:
		ct = "image/png"
		body, _, err = s.img.ExportPng(&vips.PngExportParams{StripMetadata: true, Compression: 6, Filter: vips.PngFilterNone})
	case params.FormatWebP:
		ct = "image/webp"
		body, _, err = s.img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Quality: s.opts.Quality, ReductionEffort: 4})
	default:
		ct = "image/jpeg"
		if s.img.HasAlpha() {
			if err := s.img.Flatten(&vips.Color{R: 255, G: 255, B: 255}); err != nil {
				return vipsErr(err)
			}
		}
		body, _, err = s.img.ExportJpeg(&vips.JpegExportParams{StripMetadata: true, Quality: s.opts.Quality, SubsampleMode: vips.VipsForeignSubsampleAuto})
	}
	if err != nil {
		return vipsErr(err)
	}
	s.result = Result{Body: body, ContentType: ct, Width: s.img.Width(), Height: s.img.Height()}
	return nil
}
