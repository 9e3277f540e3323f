package pipeline

import (
	"net/url"
	"testing"

	"github.com/hostpush/hostpush/imageserver/params"
)

func opts(t testing.TB, q string) params.Options {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	o, err := params.Parse(v)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	return o
}

// TestMakePlan covers every fit and crop with imgix's rules, on a 400x200
// source unless said otherwise.
func TestMakePlan(t *testing.T) {
	cases := []struct {
		name, q        string
		srcW, srcH     int
		outW, outH     int
		crop           Rect
		scaleW, scaleH int
		padX, padY     int
	}{
		{"no size keeps the source", "", 400, 200, 400, 200, Rect{0, 0, 400, 200}, 400, 200, 0, 0},
		{"width only keeps aspect", "w=100", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"height only keeps aspect", "h=100", 400, 200, 200, 100, Rect{0, 0, 400, 200}, 200, 100, 0, 0},
		{"fraction", "w=0.25", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"dpr multiplies", "w=100&dpr=2", 400, 200, 200, 100, Rect{0, 0, 400, 200}, 200, 100, 0, 0},
		{"clip fits inside", "w=100&h=100", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"clip enlarges", "w=800&h=800", 400, 200, 800, 400, Rect{0, 0, 400, 200}, 800, 400, 0, 0},
		{"max does not enlarge", "fit=max&w=800&h=800", 400, 200, 400, 200, Rect{0, 0, 400, 200}, 400, 200, 0, 0},
		{"max shrinks", "fit=max&w=100&h=100", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"max width only", "fit=max&w=800", 400, 200, 400, 200, Rect{0, 0, 400, 200}, 400, 200, 0, 0},
		{"scale distorts", "fit=scale&w=100&h=100", 400, 200, 100, 100, Rect{0, 0, 400, 200}, 100, 100, 0, 0},
		{"fill pads", "fit=fill&w=100&h=100", 400, 200, 100, 100, Rect{0, 0, 400, 200}, 100, 50, 0, 25},
		{"crop center", "fit=crop&w=100&h=100", 400, 200, 100, 100, Rect{100, 0, 200, 200}, 100, 100, 0, 0},
		{"crop left", "fit=crop&w=100&h=100&crop=left", 400, 200, 100, 100, Rect{0, 0, 200, 200}, 100, 100, 0, 0},
		{"crop right", "fit=crop&w=100&h=100&crop=right", 400, 200, 100, 100, Rect{200, 0, 200, 200}, 100, 100, 0, 0},
		{"crop top on tall", "fit=crop&w=100&h=100&crop=top", 200, 400, 100, 100, Rect{0, 0, 200, 200}, 100, 100, 0, 0},
		{"crop bottom on tall", "fit=crop&w=100&h=100&crop=bottom", 200, 400, 100, 100, Rect{0, 200, 200, 200}, 100, 100, 0, 0},
		{"crop center on tall", "fit=crop&w=100&h=100", 200, 400, 100, 100, Rect{0, 100, 200, 200}, 100, 100, 0, 0},
		{"crop top,left", "fit=crop&w=100&h=40&crop=top,left", 400, 400, 100, 40, Rect{0, 0, 400, 160}, 100, 40, 0, 0},
		{"crop bottom,right", "fit=crop&w=40&h=100&crop=bottom,right", 400, 400, 40, 100, Rect{240, 0, 160, 400}, 40, 100, 0, 0},
		{"crop enlarges", "fit=crop&w=800&h=800", 400, 200, 800, 800, Rect{100, 0, 200, 200}, 800, 800, 0, 0},
		{"crop entropy resizes to cover", "fit=crop&w=100&h=100&crop=entropy", 400, 200, 100, 100, Rect{0, 0, 400, 200}, 200, 100, 0, 0},
		{"min like crop when shrinking", "fit=min&w=100&h=100", 400, 200, 100, 100, Rect{100, 0, 200, 200}, 100, 100, 0, 0},
		{"min never enlarges", "fit=min&w=800&h=400", 400, 200, 400, 200, Rect{0, 0, 400, 200}, 400, 200, 0, 0},
		{"min keeps aspect without enlarging", "fit=min&w=1000&h=1000", 400, 200, 200, 200, Rect{100, 0, 200, 200}, 200, 200, 0, 0},
		{"output capped at 8192", "w=8192&dpr=2", 400, 200, 8192, 4096, Rect{0, 0, 400, 200}, 8192, 4096, 0, 0},
		{"scale capped at 8192", "fit=scale&w=8192&h=100&dpr=4", 400, 200, 8192, 100, Rect{0, 0, 400, 200}, 8192, 100, 0, 0},
		{"tiny result is one pixel", "w=1", 400, 200, 1, 1, Rect{0, 0, 400, 200}, 1, 1, 0, 0},
		{"seed on the oriented photo", "fit=crop&w=1024&h=1024&crop=center&blur=4", 3024, 4032, 1024, 1024, Rect{0, 504, 3024, 3024}, 1024, 1024, 0, 0},

		{"rect cuts first", "rect=100,50,200,100", 400, 200, 200, 100, Rect{100, 50, 200, 100}, 200, 100, 0, 0},
		{"rect then crop", "rect=0,0,200,200&fit=crop&w=50&h=100", 400, 200, 50, 100, Rect{50, 0, 100, 200}, 50, 100, 0, 0},
		{"rect named, cut to the source", "rect=right,bottom,300,300&w=100", 400, 200, 100, 67, Rect{100, 0, 300, 200}, 100, 67, 0, 0},
		{"rect fraction", "rect=0.5,0,0.5,1.0", 400, 200, 200, 200, Rect{200, 0, 200, 200}, 200, 200, 0, 0},
		{"ar crop without size", "fit=crop&ar=1:1", 400, 200, 200, 200, Rect{100, 0, 200, 200}, 200, 200, 0, 0},
		{"ar crop imgix example", "fit=crop&ar=9:1", 900, 270, 900, 100, Rect{0, 85, 900, 100}, 900, 100, 0, 0},
		{"ar with one side", "fit=crop&w=280&ar=2:1", 400, 400, 280, 140, Rect{0, 100, 400, 200}, 280, 140, 0, 0},
		{"ar fill frames the source", "fit=fill&ar=3:1", 900, 270, 900, 300, Rect{0, 0, 900, 270}, 900, 270, 0, 15},
		{"ar ignored with both sides", "fit=crop&w=100&h=100&ar=16:9", 400, 200, 100, 100, Rect{100, 0, 200, 200}, 100, 100, 0, 0},
		{"ar ignored by clip", "w=100&ar=1:1", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"fillmax does not enlarge", "fit=fillmax&w=800&h=800", 400, 200, 800, 800, Rect{0, 0, 400, 200}, 400, 200, 200, 300},
		{"fillmax shrinks like fill", "fit=fillmax&w=100&h=100", 400, 200, 100, 100, Rect{0, 0, 400, 200}, 100, 50, 0, 25},
		{"clamp boxes like fill", "fit=clamp&w=100&h=100", 400, 200, 100, 100, Rect{0, 0, 400, 200}, 100, 50, 0, 25},
		{"pad without size adds", "pad=10", 400, 200, 420, 220, Rect{0, 0, 400, 200}, 400, 200, 0, 0},
		{"pad fits inside the size", "fit=crop&w=100&h=100&pad=10", 400, 200, 100, 100, Rect{100, 0, 200, 200}, 80, 80, 0, 0},
		{"pad sides", "w=100&pad-left=20&pad-top=5", 400, 200, 100, 45, Rect{0, 0, 400, 200}, 80, 40, 0, 0},
		{"pad scales with dpr", "pad=5&dpr=2&w=100", 400, 200, 200, 110, Rect{0, 0, 400, 200}, 180, 90, 0, 0},
		{"rot 180 keeps everything", "rot=180&w=100", 400, 200, 100, 50, Rect{0, 0, 400, 200}, 100, 50, 0, 0},
		{"rot 90 narrows to what the frame shows", "rot=90&w=300&h=200&fit=crop", 300, 200, 300, 200, Rect{83, 0, 133, 200}, 200, 300, 0, 0},
		{"rot 45 on a square", "rot=45&w=100&h=100&fit=crop", 200, 200, 100, 100, Rect{0, 0, 200, 200}, 141, 141, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := MakePlan(c.srcW, c.srcH, opts(t, c.q))
			if err != nil {
				t.Fatal(err)
			}
			got := [9]int{p.Crop.X, p.Crop.Y, p.Crop.W, p.Crop.H, p.ScaleW, p.ScaleH, p.OutW, p.OutH, p.ImgX}
			want := [9]int{c.crop.X, c.crop.Y, c.crop.W, c.crop.H, c.scaleW, c.scaleH, c.outW, c.outH, c.padX}
			if got != want || p.ImgY != c.padY || p.Entropy != (c.name == "crop entropy resizes to cover") {
				t.Errorf("MakePlan(%dx%d, %q) =\n  %+v, want crop %+v scale %dx%d out %dx%d at %d,%d", c.srcW, c.srcH, c.q, p,
					c.crop, c.scaleW, c.scaleH, c.outW, c.outH, c.padX, c.padY)
			}
			if p.OutW > params.MaxSide || p.OutH > params.MaxSide {
				t.Errorf("output %dx%d exceeds %d", p.OutW, p.OutH, params.MaxSide)
			}
		})
	}
}

// FuzzMakePlan: any valid options on any source give a plan inside the
// source and the size limits.
func FuzzMakePlan(f *testing.F) {
	f.Add(400, 200, "fit=crop&w=100&h=100&crop=top,left")
	f.Add(1, 1, "w=8192&h=8192&dpr=5&fit=fill")
	f.Add(3024, 4032, "fit=min&w=0.3&h=9")
	f.Add(8000, 100, "rot=33&fit=fillmax&w=8192&pad=900&rect=10,10,0.5,full")
	f.Add(300, 200, "fit=crop&crop=entropy&rot=90&w=50&h=20&ar=3:1")
	f.Fuzz(func(t *testing.T, w, h int, q string) {
		if w < 1 || h < 1 || w > 20000 || h > 20000 {
			return
		}
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		o, err := params.Parse(v)
		if err != nil {
			return
		}
		p, err := MakePlan(w, h, o)
		if err != nil {
			return // a rect outside the source
		}
		c := p.Crop
		if c.X < 0 || c.Y < 0 || c.W < 1 || c.H < 1 || c.X+c.W > w || c.Y+c.H > h {
			t.Fatalf("crop %+v outside %dx%d", c, w, h)
		}
		if p.OutW < 1 || p.OutH < 1 || p.OutW > params.MaxSide || p.OutH > params.MaxSide ||
			p.Rotate == 0 && (p.ScaleW > params.MaxSide || p.ScaleH > params.MaxSide) ||
			p.ImgX < 0 || p.ImgY < 0 || p.ImgX+p.ImgW > p.BoxW || p.ImgY+p.ImgH > p.BoxH ||
			p.BoxW+p.Pad.Left+p.Pad.Right != p.OutW || p.BoxH+p.Pad.Top+p.Pad.Bottom != p.OutH {
			t.Fatalf("plan %+v breaks the size limits", p)
		}
	})
}

// TestRawRect: mapping a displayed pixel back to storage and forward again
// with the EXIF definition of each orientation gives the same pixel.
func TestRawRect(t *testing.T) {
	const w, h = 5, 3 // stored size
	// display returns where stored pixel (x, y) shows, per the EXIF spec
	display := func(o, x, y int) (int, int) {
		switch o {
		case 2:
			return w - 1 - x, y
		case 3:
			return w - 1 - x, h - 1 - y
		case 4:
			return x, h - 1 - y
		case 5:
			return y, x
		case 6:
			return h - 1 - y, x
		case 7:
			return h - 1 - y, w - 1 - x
		case 8:
			return y, w - 1 - x
		}
		return x, y
	}
	for o := 1; o <= 8; o++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dx, dy := display(o, x, y)
				r := rawRect(Rect{dx, dy, 1, 1}, o, w, h)
				if r.X != x || r.Y != y || r.W != 1 || r.H != 1 {
					t.Errorf("orientation %d: stored (%d,%d) displays at (%d,%d), which maps back to %+v", o, x, y, dx, dy, r)
				}
			}
		}
	}
}
