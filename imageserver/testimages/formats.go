package testimages

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/gif"

	"github.com/davidbyttow/govips/v2/vips"
	"golang.org/x/image/tiff"
)

// GIF encodes img as a one-frame GIF (Go's encoder, palette Plan9).
func GIF(img image.Image) []byte {
	var b bytes.Buffer
	_ = gif.Encode(&b, img, nil)
	return b.Bytes()
}

// TIFF encodes img as an uncompressed TIFF (Go's encoder).
func TIFF(img image.Image) []byte {
	var b bytes.Buffer
	_ = tiff.Encode(&b, img, nil)
	return b.Bytes()
}

// HEIC encodes img as HEIC (HEVC in HEIF) with libvips' heifsave, and
// AVIF as AV1 in HEIF; libvips must be started (pipeline.Startup). Keep
// the images small: these encoders are slow.
func HEIC(img image.Image) ([]byte, error) {
	return withVips(img, func(r *vips.ImageRef) ([]byte, error) {
		b, _, err := r.ExportHeif(&vips.HeifExportParams{Quality: 90, Bitdepth: 8, Effort: 1})
		return b, err
	})
}

// AVIF: see HEIC.
func AVIF(img image.Image) ([]byte, error) {
	return withVips(img, func(r *vips.ImageRef) ([]byte, error) {
		b, _, err := r.ExportAvif(&vips.AvifExportParams{Quality: 90, Bitdepth: 8, Effort: 1})
		return b, err
	})
}

func withVips(img image.Image, save func(*vips.ImageRef) ([]byte, error)) ([]byte, error) {
	r, err := vips.NewImageFromBuffer(PNG(img))
	if err != nil {
		return nil, fmt.Errorf("loading the test image into libvips: %w", err)
	}
	defer r.Close()
	return save(r)
}

// WithISPESize returns a copy of a HEIF or AVIF file whose every image
// size property (ispe) claims w x h: a decompression bomb's header on a
// tiny valid file.
func WithISPESize(heif []byte, w, h uint32) []byte {
	out := append([]byte{}, heif...)
	for i := 4; i+16 <= len(out); i++ {
		if string(out[i:i+4]) == "ispe" && binary.BigEndian.Uint32(out[i-4:]) == 20 {
			binary.BigEndian.PutUint32(out[i+8:], w)
			binary.BigEndian.PutUint32(out[i+12:], h)
		}
	}
	return out
}

// BombGIF is a GIF header whose logical screen is w x h, with one tiny frame.
func BombGIF(w, h uint16) []byte {
	var b bytes.Buffer
	b.WriteString("GIF89a")
	_ = binary.Write(&b, binary.LittleEndian, [2]uint16{w, h})
	b.Write([]byte{0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff}) // 2-colour global table
	b.Write([]byte{0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b})
	return b.Bytes()
}

// BombTIFF is a little-endian TIFF header whose first image claims w x h.
func BombTIFF(w, h uint32) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("II*\x00")
	le(uint32(8))
	entries := [][3]uint32{{256, 4, w}, {257, 4, h}, {258, 3, 8}, {259, 3, 1}, {262, 3, 1}, {273, 4, 0}, {277, 3, 1}, {278, 4, h}, {279, 4, 1}}
	le(uint16(len(entries)))
	for _, e := range entries {
		le(uint16(e[0]))
		le(uint16(e[1]))
		le(uint32(1))
		le(e[2])
	}
	le(uint32(0))
	return b.Bytes()
}

// BombWebP is a WebP (extended format) header whose canvas is w x h.
func BombWebP(w, h uint32) []byte {
	var b bytes.Buffer
	vp8x := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8x)))
	b.WriteString("WEBPVP8X")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(vp8x)))
	b.Write(vp8x)
	return b.Bytes()
}

// WithJPEGSize returns a copy of a baseline JPEG whose frame header (SOF0)
// claims w x h.
func WithJPEGSize(jpg []byte, w, h uint16) []byte {
	out := append([]byte{}, jpg...)
	for i := 2; i+9 < len(out); i++ {
		if out[i] == 0xff && out[i+1] == 0xc0 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			break
		}
	}
	return out
}
