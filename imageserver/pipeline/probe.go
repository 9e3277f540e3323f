package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // header parsers for the probe, no pixels decoded
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"
)

// Source formats the probe accepts.
const sourceFormats = "jpeg, png, webp, gif, tiff, heic/heif, avif"

// Header is what the probe learns from the first bytes of a source.
type Header struct {
	Format        string // jpeg, png, webp, gif, tiff, heif or avif
	Width, Height int    // as stored, before EXIF orientation
	// Pixels bounds what the loader may produce: Width*Height, or for
	// HEIF and AVIF the largest image the container declares (a file holds
	// several: the primary one, its tiles, thumbnails).
	Pixels int64
}

// matches reports whether a loaded image of w x h agrees with the header:
// exactly, or for HEIF/AVIF (whose loader applies the container's
// rotation and clean-aperture crop) not larger than declared.
func (h Header) matches(w, ht int) bool {
	if h.Format == "heif" || h.Format == "avif" {
		return int64(w)*int64(ht) <= h.Pixels
	}
	return w == h.Width && ht == h.Height
}

// errHeader is a header that could be recognized but not read.
var errHeader = errors.New("corrupt header")

// ReadHeader parses the image header of src without decoding pixels.
func ReadHeader(src []byte) (Header, error) {
	var h Header
	var err error
	switch {
	case isTIFF(src):
		h, err = tiffHeader(src)
	case isISOBMFF(src):
		h, err = heifHeader(src)
	default:
		h, err = stdHeader(src)
	}
	if err != nil {
		var se *SourceError
		if errors.As(err, &se) {
			return Header{}, err
		}
		return Header{}, &SourceError{Msg: "source image header is corrupt or truncated"}
	}
	if h.Width < 1 || h.Height < 1 {
		return Header{}, &SourceError{Msg: "source image header has no pixels"}
	}
	if h.Pixels == 0 {
		h.Pixels = int64(h.Width) * int64(h.Height)
	}
	return h, nil
}

// stdHeader reads the formats Go's image package knows.
func stdHeader(src []byte) (Header, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		if err == image.ErrFormat {
			return Header{}, &SourceError{Msg: "source is not a supported image; allowed: " + sourceFormats}
		}
		return Header{}, errHeader
	}
	switch format {
	case "jpeg", "png", "webp", "gif":
	default:
		return Header{}, &SourceError{Msg: fmt.Sprintf("source format %s is not supported; allowed: %s", format, sourceFormats)}
	}
	return Header{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// probe reads the header and checks the pixel limit before anything is decoded.
func (p *Pipeline) probe(s *state) error {
	h, err := ReadHeader(s.src)
	if err != nil {
		return err
	}
	if h.Pixels > p.cfg.MaxSourcePixels {
		return &SourceError{Msg: fmt.Sprintf("source image has %dx%d = %d pixels; allowed: at most %d", h.Width, h.Height, h.Pixels, p.cfg.MaxSourcePixels)}
	}
	s.header = h
	return nil
}
