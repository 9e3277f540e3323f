package pipeline

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // header parsers for the probe, no pixels decoded
	_ "image/png"

	_ "golang.org/x/image/webp"
)

// Header is what the probe learns from the first bytes of a source.
type Header struct {
	Format        string // jpeg, png or webp
	Width, Height int    // as stored, before EXIF orientation
}

// ReadHeader parses the image header of src without decoding pixels.
func ReadHeader(src []byte) (Header, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		if err == image.ErrFormat {
			return Header{}, &SourceError{Msg: "source is not a supported image; allowed: jpeg, png, webp"}
		}
		return Header{}, &SourceError{Msg: "source image header is corrupt or truncated"}
	}
	switch format {
	case "jpeg", "png", "webp":
	default:
		return Header{}, &SourceError{Msg: fmt.Sprintf("source format %s is not supported; allowed: jpeg, png, webp", format)}
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return Header{}, &SourceError{Msg: "source image header has no pixels"}
	}
	return Header{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// probe reads the header and checks the pixel limit before anything is decoded.
func (p *Pipeline) probe(s *state) error {
	h, err := ReadHeader(s.src)
	if err != nil {
		return err
	}
	if n := int64(h.Width) * int64(h.Height); n > p.cfg.MaxSourcePixels {
		return &SourceError{Msg: fmt.Sprintf("source image has %dx%d = %d pixels; allowed: at most %d", h.Width, h.Height, n, p.cfg.MaxSourcePixels)}
	}
	s.header = h
	return nil
}
