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
	q := s.opts.QualityFor(s.format)
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
		body, _, err = s.img.ExportWebp(&vips.WebpExportParams{StripMetadata: true, Quality: q, Lossless: s.opts.Lossless, ReductionEffort: 4})
	case params.FormatAVIF:
		ct = "image/avif"
		body, err = encodeAVIF(s.img, max(1, q))
	default:
		ct = "image/jpeg"
		if err := flattenWhite(s.img); err != nil {
			return err
		}
		body, _, err = s.img.ExportJpeg(&vips.JpegExportParams{StripMetadata: true, Quality: max(1, q),
			Interlace: s.format == params.FormatPJPEG, SubsampleMode: vips.VipsForeignSubsampleAuto})
	}
	if err != nil {
		return vipsErr(err)
	}
	s.result = Result{Body: body, ContentType: ct, Width: s.img.Width(), Height: s.img.Height()}
	return nil
}

// flattenWhite drops alpha for formats without it, onto white.
func flattenWhite(img *vips.ImageRef) error {
	if !img.HasAlpha() {
		return nil
	}
	return vipsErr(img.Flatten(&vips.Color{R: 255, G: 255, B: 255}))
}
