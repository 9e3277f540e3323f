package pipeline

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
)

var update = flag.Bool("update", false, "rewrite the golden images under testdata/golden")

// TestGolden compares outputs with reviewed images by size and perceptual
// distance (not bytes: encoders and libvips versions differ in the last bit).
func TestGolden(t *testing.T) {
	p := newPipeline(t)
	jpg := encodeJPEG(t, stored(picture(480, 320), 6), 6)
	pngSrc := encodePNG(t, picture(480, 320))
	small := encodePNG(t, picture(120, 80))
	cases := []struct {
		name, q string
		src     []byte
		fm      params.Format
	}{
		{"seed-like-crop-blur", "fit=crop&w=160&h=160&crop=center&blur=4", jpg, params.FormatJPEG},
		{"crop-top-left", "fit=crop&w=120&h=60&crop=top,left", jpg, params.FormatPNG},
		{"clip", "w=200&h=200", pngSrc, params.FormatPNG},
		{"fill", "fit=fill&w=200&h=200", pngSrc, params.FormatPNG},
		{"scale", "fit=scale&w=100&h=200", pngSrc, params.FormatWebP},
		{"entropy", "fit=crop&w=100&h=100&crop=entropy", pngSrc, params.FormatPNG},
		{"flip-hv", "w=120&flip=hv", jpg, params.FormatPNG},
		{"blur-200", "w=240&blur=200", pngSrc, params.FormatPNG},
		{"dpr-2", "w=60&dpr=2&q=90", jpg, params.FormatJPEG},
		{"rect", "rect=120,80,240,160&w=120", pngSrc, params.FormatPNG},
		{"rect-named", "rect=right,bottom,0.5,0.5", small, params.FormatPNG},
		{"ar-crop", "fit=crop&ar=16:9&w=160&crop=bottom", jpg, params.FormatJPEG},
		{"ar-fill", "fit=fill&ar=1:1&fill-color=orange", small, params.FormatPNG},
		{"fillmax", "fit=fillmax&w=200&h=160", small, params.FormatPNG},
		{"fill-solid", "fit=fill&w=200&h=200&fill=solid&fill-color=ff0000", pngSrc, params.FormatJPEG},
		{"clamp", "fit=clamp&w=200&h=200", pngSrc, params.FormatPNG},
		{"pad-bg", "w=160&pad=12&bg=0000ff", jpg, params.FormatJPEG},
		{"sharp-80", "w=240&sharp=80", jpg, params.FormatPNG},
		{"rot-90", "fit=crop&w=160&h=90&rot=90", jpg, params.FormatPNG},
		{"rot-30", "w=200&rot=30", pngSrc, params.FormatPNG},
		{"orient-90", "w=120&or=90", pngSrc, params.FormatPNG},
		{"avif", "w=200", jpg, params.FormatAVIF},
		{"compress", "w=200&auto=compress", jpg, params.FormatJPEG},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decodeAny(t, process(t, p, c.src, c.q, c.fm).Body)
			path := filepath.Join("testdata", "golden", c.name+".png")
			if *update {
				writePNG(t, path, got)
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create the golden)", err)
			}
			defer f.Close()
			want, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if got.Bounds().Size() != want.Bounds().Size() {
				t.Fatalf("size %v, golden %v", got.Bounds().Size(), want.Bounds().Size())
			}
			if d := distance(got, want); d.mean > 3 || d.block > 12 {
				t.Errorf("perceptual distance to %s: %s (allowed: mean <= 3, worst 8x8 block <= 12)", path, d)
			}
		})
	}
}

// decodeAny decodes an output of any format, AVIF through libvips.
func decodeAny(t *testing.T, b []byte) image.Image {
	t.Helper()
	if len(b) > 12 && string(b[4:12]) == "ftypavif" {
		img, err := vips.NewImageFromBuffer(b)
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		if b, _, err = img.ExportPng(&vips.PngExportParams{Compression: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return decode(t, b)
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

type dist struct{ mean, block float64 }

func (d dist) String() string {
	return fmt.Sprintf("mean %.2f, worst block %.2f (0-255 per channel)", d.mean, d.block)
}

// distance is the mean absolute difference per channel over all pixels and
// the largest difference of the mean colours of 8x8 blocks, which is what
// a viewer notices (shifted or missing features) rather than encoder noise.
func distance(a, b image.Image) dist {
	r := a.Bounds()
	var sum, n, worst float64
	for by := r.Min.Y; by < r.Max.Y; by += 8 {
		for bx := r.Min.X; bx < r.Max.X; bx += 8 {
			blk := image.Rect(bx, by, min(bx+8, r.Max.X), min(by+8, r.Max.Y))
			ar, ag, ab := meanColour(a, blk)
			br, bg, bb := meanColour(b, blk.Sub(r.Min).Add(b.Bounds().Min))
			worst = max(worst, abs(ar-br), abs(ag-bg), abs(ab-bb))
			for y := blk.Min.Y; y < blk.Max.Y; y++ {
				for x := blk.Min.X; x < blk.Max.X; x++ {
					c1r, c1g, c1b, _ := a.At(x, y).RGBA()
					c2r, c2g, c2b, _ := b.At(x-r.Min.X+b.Bounds().Min.X, y-r.Min.Y+b.Bounds().Min.Y).RGBA()
					sum += abs(float64(c1r>>8)-float64(c2r>>8)) + abs(float64(c1g>>8)-float64(c2g>>8)) + abs(float64(c1b>>8)-float64(c2b>>8))
					n += 3
				}
			}
		}
	}
	return dist{mean: sum / n, block: worst}
}

// TestDistanceCanFail: the comparison sees a real difference.
func TestDistanceCanFail(t *testing.T) {
	a, b := picture(64, 64), picture(64, 64)
	if d := distance(a, b); d.mean != 0 || d.block != 0 {
		t.Fatalf("identical images differ: %s", d)
	}
	flipped := stored(b, 2) // mirrored
	if d := distance(a, flipped); d.block <= 12 {
		t.Fatalf("mirrored image passes as the same: %s", d)
	}
}
