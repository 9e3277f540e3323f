package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/davidbyttow/govips/v2/vips"

	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/imageserver/testimages"
)

// stepLog records which steps ran.
type stepLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *stepLog) ObserveStep(step string, _ time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, step)
}

func (l *stepLog) ran(step string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.steps {
		if s == step {
			return true
		}
	}
	return false
}

// sources encodes the test picture in every accepted source format.
func sources(t *testing.T, w, h int) map[string][]byte {
	t.Helper()
	newPipeline(t) // starts libvips for the HEIF encoders
	pic := picture(w, h)
	heic, err := testimages.HEIC(pic)
	if err != nil {
		t.Fatal(err)
	}
	avif, err := testimages.AVIF(pic)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"jpeg": encodeJPEG(t, pic, 0), "png": encodePNG(t, pic), "gif": testimages.GIF(pic),
		"tiff": testimages.TIFF(pic), "heif": heic, "avif": avif,
	}
}

// TestSourceFormats: each source format is recognized from its header,
// decoded (GIF's first frame) and transformed with the right size and
// colours.
func TestSourceFormats(t *testing.T) {
	p := newPipeline(t)
	for format, src := range sources(t, 120, 80) {
		t.Run(format, func(t *testing.T) {
			h, err := ReadHeader(src)
			if err != nil || h.Format != format || h.Width != 120 || h.Height != 80 {
				t.Fatalf("header %+v, %v; want %s 120x80", h, err, format)
			}
			out := decode(t, process(t, p, src, "w=60", params.FormatPNG).Body)
			if b := out.Bounds(); b.Dx() != 60 || b.Dy() != 40 {
				t.Fatalf("output %v, want 60x40", b)
			}
			checkQuadrants(t, out, quadrants)
		})
	}
}

// TestBombs: a header claiming far more pixels than the limit is refused
// by the probe, before anything is loaded, in every format.
func TestBombs(t *testing.T) {
	srcs := sources(t, 32, 32)
	jpg := encodeJPEG(t, picture(32, 32), 0)
	bombs := map[string][]byte{
		"jpeg": testimages.WithJPEGSize(jpg, 60000, 60000),
		"png":  bombPNG(30000, 30000),
		"webp": testimages.BombWebP(16384, 16384),
		"gif":  testimages.BombGIF(65535, 65535),
		"tiff": testimages.BombTIFF(100000, 100000),
		"heif": testimages.WithISPESize(srcs["heif"], 30000, 30000),
		"avif": testimages.WithISPESize(srcs["avif"], 30000, 30000),
	}
	for format, src := range bombs {
		t.Run(format, func(t *testing.T) {
			log := &stepLog{}
			p, err := New(DefaultConfig(), log, discard())
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Process(context.Background(), src, opts(t, "w=100"), params.FormatJPEG)
			var se *SourceError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, "pixels; allowed: at most 50000000") {
				t.Fatalf("error %v, want the source pixel limit", err)
			}
			if log.ran("load") {
				t.Error("the bomb reached the loader")
			}
		})
	}
}

// TestOutputLimit: a plan over the output pixel limit is refused before
// decoding, naming the limit; one at the limit is served.
func TestOutputLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxOutputPixels = 100 * 100
	p, err := New(cfg, nil, discard())
	if err != nil {
		t.Fatal(err)
	}
	src := encodePNG(t, picture(400, 200))
	for _, q := range []string{"w=101&h=100&fit=scale", "w=50&dpr=5&fit=crop&h=50", "pad=1"} {
		_, err := p.Process(context.Background(), src, opts(t, q), params.FormatJPEG)
		var le *LimitError
		if !errors.As(err, &le) || !strings.Contains(le.Msg, "allowed: at most 10000") {
			t.Errorf("%s: error %v, want a LimitError naming 10000", q, err)
		}
	}
	if _, err := p.Process(context.Background(), src, opts(t, "w=100&h=100&fit=crop"), params.FormatJPEG); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err = p.Process(context.Background(), src, opts(t, "rect=500,0,10,10"), params.FormatJPEG)
	var pe *params.Error
	if !errors.As(err, &pe) || pe.Param != "rect" {
		t.Errorf("rect outside the source: %v, want a rect parameter error", err)
	}
}

// TestOutputFormats: AVIF and progressive JPEG come out as such, and
// lossless WebP keeps the pixels.
func TestOutputFormats(t *testing.T) {
	p := newPipeline(t)
	src := encodePNG(t, picture(64, 48))
	avif := process(t, p, src, "", params.FormatAVIF)
	if avif.ContentType != "image/avif" || !bytes.Equal(avif.Body[4:12], []byte("ftypavif")) {
		t.Fatalf("avif: %s, starts %q", avif.ContentType, avif.Body[:12])
	}
	img, err := vips.NewImageFromBuffer(avif.Body)
	if err != nil {
		t.Fatal(err)
	}
	if img.Width() != 64 || img.Height() != 48 {
		t.Errorf("avif is %dx%d, want 64x48", img.Width(), img.Height())
	}
	img.Close()
	pj := process(t, p, src, "", params.FormatPJPEG)
	if pj.ContentType != "image/jpeg" || !bytes.Contains(pj.Body, []byte{0xff, 0xc2}) {
		t.Error("pjpg is not a progressive JPEG (no SOF2)")
	}
	if bytes.Contains(process(t, p, src, "", params.FormatJPEG).Body, []byte{0xff, 0xc2}) {
		t.Error("jpg is progressive")
	}
	o := opts(t, "lossless=1")
	res, err := p.Process(context.Background(), src, o, params.FormatWebP)
	if err != nil {
		t.Fatal(err)
	}
	if d := distance(decode(t, res.Body), picture(64, 48)); d.mean != 0 {
		t.Errorf("lossless webp differs from the source: %s", d)
	}
}

// TestFillPadBackground: the colours of fill-color, pad and bg land where
// imgix puts them.
func TestFillPadBackground(t *testing.T) {
	p := newPipeline(t)
	src := encodePNG(t, picture(200, 100))
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	out := decode(t, process(t, p, src, "fit=fill&w=100&h=100&fill=solid&fill-color=ff0000&pad=10&bg=0000ff", params.FormatPNG).Body)
	if b := out.Bounds(); b.Dx() != 100 || b.Dy() != 100 {
		t.Fatalf("size %v, want 100x100", b)
	}
	if !near(out, image.Rect(0, 0, 100, 5), blue, 3) || !near(out, image.Rect(20, 15, 80, 25), red, 3) {
		t.Error("padding should be bg blue and the fill excess fill-color red")
	}
	checkQuadrants(t, subImage(out, image.Rect(10, 30, 90, 70)), quadrants)

	alpha := image.NewNRGBA(image.Rect(0, 0, 20, 20)) // transparent
	got := decode(t, process(t, p, encodePNG(t, alpha), "bg=00ff00", params.FormatPNG).Body)
	if !near(got, got.Bounds(), color.RGBA{0, 255, 0, 255}, 3) {
		t.Error("bg should fill transparent pixels")
	}
	half := decode(t, process(t, p, encodePNG(t, alpha), "bg=80ff0000", params.FormatPNG).Body)
	if _, _, _, a := half.At(5, 5).RGBA(); a>>8 < 120 || a>>8 > 136 {
		t.Errorf("bg with alpha 0x80 gives alpha %d, want about 128", a>>8)
	}
}

// subImage copies r of img into an image whose bounds start at 0,0.
func subImage(img image.Image, r image.Rectangle) image.Image {
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), img, r.Min, draw.Src)
	return out
}

// FuzzReadHeader: any bytes either give a header with pixels or a
// SourceError; the TIFF and HEIF readers never panic or read out of bounds.
func FuzzReadHeader(f *testing.F) {
	if err := Startup(discard()); err != nil {
		f.Fatal(err)
	}
	pic := picture(16, 8)
	heic, err1 := testimages.HEIC(pic)
	avif, err2 := testimages.AVIF(pic)
	if err1 != nil || err2 != nil {
		f.Fatal(err1, err2)
	}
	for _, seed := range [][]byte{heic, avif, testimages.TIFF(pic), testimages.BombTIFF(9, 9), testimages.GIF(pic),
		testimages.BombWebP(5, 5), bombPNG(3, 3), []byte("MM\x00+\x00\x08\x00\x00\xff\xff\xff\xff\xff\xff\xff\xf0")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(b)
		if err != nil {
			var se *SourceError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SourceError", err)
			}
			return
		}
		if h.Width < 1 || h.Height < 1 || h.Pixels < 1 {
			t.Fatalf("header %+v has no pixels", h)
		}
	})
}
