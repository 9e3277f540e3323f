package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hostpush/hostpush/imageserver/params"
)

func newPipeline(t testing.TB) *Pipeline {
	t.Helper()
	p, err := New(DefaultConfig(), nil, discard())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func process(t testing.TB, p *Pipeline, src []byte, q string, fm params.Format) Result {
	t.Helper()
	res, err := p.Process(context.Background(), src, opts(t, q), fm)
	if err != nil {
		t.Fatalf("Process(%q): %v", q, err)
	}
	return res
}

// TestOrientation: for every EXIF orientation the output shows the picture
// upright, and crops, flips and sizes refer to the upright picture.
func TestOrientation(t *testing.T) {
	p := newPipeline(t)
	disp := picture(300, 200)
	red, green, blue, white := quadrants[0], quadrants[1], quadrants[2], quadrants[3]
	for o := 1; o <= 8; o++ {
		src := encodeJPEG(t, stored(disp, o), o)
		t.Run("orientation "+string(rune('0'+o)), func(t *testing.T) {
			full := decode(t, process(t, p, src, "", params.FormatPNG).Body)
			if b := full.Bounds(); b.Dx() != 300 || b.Dy() != 200 {
				t.Fatalf("output is %v, want 300x200", b)
			}
			checkQuadrants(t, full, [4]color.RGBA{red, green, blue, white})

			for _, c := range []struct {
				q    string
				want color.RGBA
			}{
				{"fit=crop&w=40&h=40&crop=top,left", red},
				{"fit=crop&w=40&h=40&crop=top,right", green},
				{"fit=crop&w=40&h=40&crop=bottom,left", blue},
				{"fit=crop&w=40&h=40&crop=bottom,right", white},
			} {
				// 40x40 from 300x200 covers the left or right 200x200: check
				// the outer corner, which lies in the named quarter
				out := decode(t, process(t, p, src, c.q, params.FormatPNG).Body)
				if b := out.Bounds(); b.Dx() != 40 || b.Dy() != 40 {
					t.Fatalf("%s: output is %v, want 40x40", c.q, b)
				}
				x0, y0 := 2, 2
				if strings.Contains(c.q, "right") {
					x0 = 28
				}
				if strings.Contains(c.q, "bottom") {
					y0 = 28
				}
				if !near(out, image.Rect(x0, y0, x0+10, y0+10), c.want, 40) {
					r, g, b := meanColour(out, image.Rect(x0, y0, x0+10, y0+10))
					t.Errorf("%s: corner colour %.0f,%.0f,%.0f, want about %v", c.q, r, g, b, c.want)
				}
			}
			flipped := decode(t, process(t, p, src, "flip=hv&w=150", params.FormatPNG).Body)
			checkQuadrants(t, flipped, [4]color.RGBA{white, blue, green, red})
		})
	}
}

func checkQuadrants(t *testing.T, img image.Image, want [4]color.RGBA) {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	cells := []image.Rectangle{
		image.Rect(w/8, h/8, w*3/8, h*3/8), image.Rect(w*5/8, h/8, w*7/8, h*3/8),
		image.Rect(w/8, h*5/8, w*3/8, h*7/8), image.Rect(w*5/8, h*5/8, w*7/8, h*7/8),
	}
	for i, r := range cells {
		if !near(img, r, want[i], 40) {
			cr, cg, cb := meanColour(img, r)
			t.Errorf("quarter %d is %.0f,%.0f,%.0f, want about %v", i, cr, cg, cb, want[i])
		}
	}
}

// TestOutputSize: the encoded output has the planned size for every fit and
// crop, through the PNG path and the JPEG shrink-on-load path.
func TestOutputSize(t *testing.T) {
	p := newPipeline(t)
	sources := map[string][]byte{
		"png 400x200":           encodePNG(t, picture(400, 200)),
		"jpeg 1600x800":         encodeJPEG(t, picture(1600, 800), 0),
		"jpeg 800x1600 rotated": encodeJPEG(t, stored(picture(800, 1600), 6), 6),
	}
	queries := []string{
		"", "w=100", "h=100", "w=0.5", "w=100&dpr=3",
		"fit=clip&w=100&h=100", "fit=max&w=5000&h=5000", "fit=scale&w=123&h=45",
		"fit=fill&w=100&h=100", "fit=min&w=3000&h=1000", "fit=min&w=100&h=300",
		"fit=crop&w=100&h=100", "fit=crop&w=100&h=30&crop=top", "fit=crop&w=30&h=100&crop=bottom,right",
		"fit=crop&w=64&h=64&crop=entropy", "fit=crop&w=1024&h=1024&crop=center&blur=4",
		"w=200&blur=2000", "w=2000&h=1500&fit=crop&q=10",
	}
	for name, src := range sources {
		h, err := ReadHeader(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			t.Run(name+"/"+q, func(t *testing.T) {
				w, hh := h.Width, h.Height
				if strings.Contains(name, "rotated") {
					w, hh = hh, w
				}
				plan, err := MakePlan(w, hh, opts(t, q))
				if err != nil {
					t.Fatal(err)
				}
				res := process(t, p, src, q, params.FormatJPEG)
				img := decode(t, res.Body)
				if b := img.Bounds(); b.Dx() != plan.OutW || b.Dy() != plan.OutH || res.Width != plan.OutW || res.Height != plan.OutH {
					t.Errorf("output %v (result says %dx%d), plan %dx%d", b, res.Width, res.Height, plan.OutW, plan.OutH)
				}
			})
		}
	}
}

// TestBadSources: every kind of bad file is a SourceError with a one-line
// public message, never a panic.
func TestBadSources(t *testing.T) {
	p := newPipeline(t)
	good := encodeJPEG(t, picture(400, 300), 0)
	corrupt := append([]byte{}, good...)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(corrupt) / 3; i < len(corrupt)-2; i++ {
		corrupt[i] = byte(rng.IntN(256))
	}
	bmp := append([]byte("BM"), make([]byte, 60)...)
	cases := map[string][]byte{
		"corrupt":              corrupt,
		"truncated jpeg":       good[:len(good)/2],
		"truncated header":     good[:20],
		"not an image":         []byte("hello, this is a text file\n"),
		"empty":                {},
		"decompression bomb":   bombPNG(20000, 20000),
		"unsupported bmp":      bmp,
		"pdf":                  []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"),
		"iso media, not heif":  []byte("\x00\x00\x00\x14ftypmp42\x00\x00\x00\x00mp42isom"),
		"tiff without size":    []byte("II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"png with broken data": append(encodePNG(t, picture(50, 50))[:60], bytes.Repeat([]byte{0}, 40)...),
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := p.Process(context.Background(), src, opts(t, "w=100"), params.FormatJPEG)
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want a *SourceError", err)
			}
			if se.Msg == "" || strings.Contains(se.Msg, "\n") {
				t.Errorf("message %q should be one non-empty line", se.Msg)
			}
		})
	}
	_, err := p.Process(context.Background(), bombPNG(20000, 20000), opts(t, ""), params.FormatJPEG)
	if err == nil || !strings.Contains(err.Error(), "allowed: at most 50000000") {
		t.Errorf("bomb error %v should name the pixel limit", err)
	}
}

// TestBlurBounded: the largest blur flattens the picture to about its mean
// colour and keeps the size; a small blur keeps the quarters.
func TestBlurBounded(t *testing.T) {
	p := newPipeline(t)
	src := encodePNG(t, picture(400, 200))
	out := decode(t, process(t, p, src, "blur=2000", params.FormatPNG).Body)
	if b := out.Bounds(); b.Dx() != 400 || b.Dy() != 200 {
		t.Fatalf("size %v, want 400x200", b)
	}
	r1, g1, b1 := meanColour(out, image.Rect(0, 0, 40, 40))
	r2, g2, b2 := meanColour(out, image.Rect(360, 160, 400, 200))
	if abs(r1-r2)+abs(g1-g2)+abs(b1-b2) > 60 {
		t.Errorf("blur=2000 left corners %.0f,%.0f,%.0f and %.0f,%.0f,%.0f apart", r1, g1, b1, r2, g2, b2)
	}
	small := decode(t, process(t, p, src, "blur=4", params.FormatPNG).Body)
	checkQuadrants(t, small, quadrants)
	mid := decode(t, process(t, p, src, "blur=100&w=200", params.FormatPNG).Body)
	if b := mid.Bounds(); b.Dx() != 200 || b.Dy() != 100 {
		t.Fatalf("blur=100 size %v, want 200x100", b)
	}
}

// TestFormats: each output format decodes, carries no metadata and is sRGB;
// alpha is flattened for JPEG.
func TestFormats(t *testing.T) {
	p := newPipeline(t)
	src := encodeJPEG(t, picture(200, 100), 6)
	for _, c := range []struct {
		fm    params.Format
		ctype string
	}{{params.FormatJPEG, "image/jpeg"}, {params.FormatPNG, "image/png"}, {params.FormatWebP, "image/webp"}} {
		res := process(t, p, src, "w=50", c.fm)
		if res.ContentType != c.ctype {
			t.Errorf("%s: content type %s, want %s", c.fm, res.ContentType, c.ctype)
		}
		img := decode(t, res.Body)
		if b := img.Bounds(); b.Dx() != 50 || b.Dy() != 100 {
			t.Errorf("%s: size %v, want 50x100 (upright)", c.fm, b)
		}
		// libvips 8.14's webpsave writes a minimal EXIF block of its own
		// (resolution, colour space); nothing of the source's may remain
		if bytes.Contains(res.Body, []byte(exifMarker)) || c.fm != params.FormatWebP && bytes.Contains(res.Body, []byte("Exif")) {
			t.Errorf("%s: output carries the source's EXIF", c.fm)
		}
	}
	alpha := image.NewNRGBA(image.Rect(0, 0, 20, 20)) // fully transparent
	res := process(t, p, encodePNG(t, alpha), "", params.FormatJPEG)
	if !near(decode(t, res.Body), image.Rect(0, 0, 20, 20), color.RGBA{255, 255, 255, 255}, 3) {
		t.Error("transparent PNG as JPEG should be flattened onto white")
	}
}

func TestCancelled(t *testing.T) {
	p := newPipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Process(ctx, encodePNG(t, picture(10, 10)), opts(t, ""), params.FormatJPEG)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
