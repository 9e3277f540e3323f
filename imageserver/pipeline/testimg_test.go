package pipeline

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// quadrants are the colours of the test picture's quarters as displayed:
// top-left, top-right, bottom-left, bottom-right.
var quadrants = [4]color.RGBA{{220, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 220, 255}, {240, 240, 240, 255}}

// picture is a displayed test image: four coloured quarters with a soft
// diagonal gradient, so that crops, flips and rotations are visible.
func picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			c := quadrants[q]
			g := uint8((x + y) * 20 / (w + h))
			img.SetRGBA(x, y, color.RGBA{c.R - min(c.R, g), c.G - min(c.G, g), c.B - min(c.B, g), 255})
		}
	}
	return img
}

// stored returns the pixels a camera would store for displayed image d
// under EXIF orientation o.
func stored(d *image.RGBA, o int) *image.RGBA {
	w, h := d.Bounds().Dx(), d.Bounds().Dy()
	sw, sh := w, h
	if transposes(o) {
		sw, sh = h, w
	}
	s := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := rawRect(Rect{x, y, 1, 1}, o, sw, sh)
			s.SetRGBA(r.X, r.Y, d.RGBAAt(x, y))
		}
	}
	return s
}

func encodeJPEG(t testing.TB, img image.Image, orientation int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	if orientation == 0 {
		return b.Bytes()
	}
	return withOrientation(b.Bytes(), orientation)
}

// exifMarker is a private string in the test sources' EXIF that must never
// reach an output.
const exifMarker = "hostpush-private-exif-marker"

// withOrientation inserts an EXIF APP1 segment holding the orientation tag
// and an ImageDescription (exifMarker) right after the JPEG's SOI marker.
func withOrientation(jpg []byte, o int) []byte {
	var tiff bytes.Buffer
	w := func(v any) { _ = binary.Write(&tiff, binary.BigEndian, v) }
	tiff.WriteString("MM\x00\x2a")
	w(uint32(8))      // first IFD
	w(uint16(2))      // entries
	w(uint16(0x010E)) // ImageDescription, ASCII, stored after the IFD
	w(uint16(2))
	w(uint32(len(exifMarker) + 1))
	w(uint32(8 + 2 + 2*12 + 4))
	w(uint16(0x0112)) // Orientation, SHORT
	w(uint16(3))
	w(uint32(1))
	w(uint16(o))
	w(uint16(0))
	w(uint32(0)) // no next IFD
	tiff.WriteString(exifMarker + "\x00")
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decode decodes an output image of any of the three formats.
func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	return img
}

// meanColour is the average colour of a region of img.
func meanColour(img image.Image, r image.Rectangle) (float64, float64, float64) {
	var sr, sg, sb, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sr, sg, sb, n = sr+float64(cr>>8), sg+float64(cg>>8), sb+float64(cb>>8), n+1
		}
	}
	return sr / n, sg / n, sb / n
}

// near reports whether the mean colour of r in img is within tol of c.
func near(img image.Image, r image.Rectangle, c color.RGBA, tol float64) bool {
	mr, mg, mb := meanColour(img, r)
	return abs(mr-float64(c.R)) < tol && abs(mg-float64(c.G)) < tol && abs(mb-float64(c.B)) < tol
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// bombPNG is a valid PNG header claiming w x h pixels with almost no data:
// the probe must refuse it before anything is decoded.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.ChecksumIEEE(append([]byte(typ), data...))
		binary.Write(&b, binary.BigEndian, crc)
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}
