package params

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

var parseCases = []struct {
	name, query string
	want        func(o *Options) // applied to Defaults(); nil when an error is expected
	errParam    string           // parameter an error must name
	ignored     string           // the Shown names of the ignored parameters, comma-joined
}{
	{name: "defaults", query: "", want: func(o *Options) {}},
	{name: "seed", query: "fit=crop&w=1024&h=1024&crop=center&blur=4", want: func(o *Options) {
		o.Fit, o.W, o.H, o.Blur = FitCrop, Dim{Px: 1024}, Dim{Px: 1024}, 4
	}},
	{name: "fraction", query: "w=0.5&h=0.25", want: func(o *Options) { o.W, o.H = Dim{Frac: 0.5}, Dim{Frac: 0.25} }},
	{name: "max side", query: "w=8192", want: func(o *Options) { o.W = Dim{Px: 8192} }},
	{name: "integer written as float", query: "w=100.0", want: func(o *Options) { o.W = Dim{Px: 100} }},
	{name: "every fit", query: "fit=scale", want: func(o *Options) { o.Fit = FitScale }},
	{name: "fit max", query: "fit=max", want: func(o *Options) { o.Fit = FitMax }},
	{name: "fit min", query: "fit=min", want: func(o *Options) { o.Fit = FitMin }},
	{name: "fit fill", query: "fit=fill", want: func(o *Options) { o.Fit = FitFill }},
	{name: "fit clip", query: "fit=clip", want: func(o *Options) { o.Fit = FitClip }},
	{name: "crop chain", query: "fit=crop&crop=top,left", want: func(o *Options) { o.Fit, o.Crop = FitCrop, CropTop|CropLeft }},
	{name: "crop entropy", query: "crop=entropy", want: func(o *Options) { o.Crop = CropEntropy }},
	{name: "crop bottom right", query: "crop=bottom,right", want: func(o *Options) { o.Crop = CropBottom | CropRight }},
	{name: "blur bounds", query: "blur=2000", want: func(o *Options) { o.Blur = 2000 }},
	{name: "quality", query: "q=1", want: func(o *Options) { o.Quality, o.QualitySet = 1, true }},
	{name: "quality zero", query: "q=0", want: func(o *Options) { o.Quality, o.QualitySet = 0, true }},
	{name: "quality 100", query: "q=100", want: func(o *Options) { o.Quality, o.QualitySet = 100, true }},
	{name: "formats", query: "fm=webp", want: func(o *Options) { o.Format = FormatWebP }},
	{name: "jpeg alias", query: "fm=jpeg", want: func(o *Options) { o.Format = FormatJPEG }},
	{name: "png", query: "fm=png", want: func(o *Options) { o.Format = FormatPNG }},
	{name: "auto format", query: "auto=format,compress", want: func(o *Options) { o.AutoFormat, o.Compress = true, true }},
	{name: "auto repeated", query: "auto=compress&auto=format", want: func(o *Options) { o.AutoFormat, o.Compress = true, true }},
	{name: "auto enhance ignored", query: "auto=enhance,format", want: func(o *Options) { o.AutoFormat = true }, ignored: "auto=enhance"},
	{name: "avif", query: "fm=avif", want: func(o *Options) { o.Format = FormatAVIF }},
	{name: "progressive jpeg", query: "fm=pjpg", want: func(o *Options) { o.Format = FormatPJPEG }},
	{name: "format not implemented", query: "fm=jxr&w=10", want: func(o *Options) { o.W = Dim{Px: 10} }, ignored: "fm=jxr"},
	{name: "lossless", query: "lossless=1&fm=webp", want: func(o *Options) { o.Lossless, o.Format = true, FormatWebP }},
	{name: "lossless true", query: "lossless=true", want: func(o *Options) { o.Lossless = true }},
	{name: "lossless off", query: "lossless=0", want: func(o *Options) {}},
	{name: "fit fillmax", query: "fit=fillmax", want: func(o *Options) { o.Fit = FitFillMax }},
	{name: "fit clamp", query: "fit=clamp", want: func(o *Options) { o.Fit = FitClamp }},
	{name: "fit facearea ignored", query: "fit=facearea", want: func(o *Options) {}, ignored: "fit=facearea"},
	{name: "fit alias f", query: "f=crop", want: func(o *Options) { o.Fit = FitCrop }},
	{name: "width alias", query: "width=300&height=0.5", want: func(o *Options) { o.W, o.H = Dim{Px: 300}, Dim{Frac: 0.5} }},
	{name: "crop faces ignored", query: "crop=faces,top", want: func(o *Options) { o.Crop = CropTop }, ignored: "crop=faces"},
	{name: "rect pixels", query: "rect=0,0,100,100", want: func(o *Options) {
		o.Rect = Rect{Set: true, W: Coord{Px: 100}, H: Coord{Px: 100}}
	}},
	{name: "rect fractions", query: "rect=0.25,0.5,0.5,1.0", want: func(o *Options) {
		o.Rect = Rect{Set: true, X: Coord{Kind: CoordFrac, Frac: 0.25}, Y: Coord{Kind: CoordFrac, Frac: 0.5},
			W: Coord{Kind: CoordFrac, Frac: 0.5}, H: Coord{Kind: CoordFrac, Frac: 1}}
	}},
	{name: "rect named", query: "rect=center,bottom,200,full", want: func(o *Options) {
		o.Rect = Rect{Set: true, X: Coord{Kind: CoordMiddle}, Y: Coord{Kind: CoordEnd}, W: Coord{Px: 200}, H: Coord{Kind: CoordFull}}
	}},
	{name: "rect base64", query: "rect64=MCwwLDEwLDIw", want: func(o *Options) { // 0,0,10,20
		o.Rect = Rect{Set: true, W: Coord{Px: 10}, H: Coord{Px: 20}}
	}},
	{name: "ar crop", query: "ar=16:9&fit=crop", want: func(o *Options) { o.AR, o.Fit = Ratio{16, 9}, FitCrop }},
	{name: "ar fractional", query: "ar=0.85:1", want: func(o *Options) { o.AR = Ratio{0.85, 1} }},
	{name: "fill solid colour", query: "fit=fill&fill=solid&fill-color=ff0000", want: func(o *Options) {
		o.Fit, o.FillColor = FitFill, Colour{255, 0, 0, 255, true}
	}},
	{name: "fill blur ignored", query: "fill=blur", want: func(o *Options) {}, ignored: "fill=blur"},
	{name: "fillcolor alias keyword", query: "fillcolor=orange", want: func(o *Options) { o.FillColor = Colour{255, 165, 0, 255, true} }},
	{name: "bg argb", query: "bg=80ff0000", want: func(o *Options) { o.BG = Colour{255, 0, 0, 0x80, true} }},
	{name: "bg short", query: "bg=0fff", want: func(o *Options) { o.BG = Colour{255, 255, 255, 0, true} }},
	{name: "bg rgb", query: "bg=f00", want: func(o *Options) { o.BG = Colour{255, 0, 0, 255, true} }},
	{name: "pad all", query: "pad=10", want: func(o *Options) { o.Pad = Sides{10, 10, 10, 10} }},
	{name: "pad side wins", query: "pad-left=3&pad=10", want: func(o *Options) { o.Pad = Sides{10, 10, 10, 3} }},
	{name: "sharp", query: "sharp=50", want: func(o *Options) { o.Sharp = 50 }},
	{name: "rot", query: "rot=90", want: func(o *Options) { o.Rot = 90 }},
	{name: "rot fraction", query: "rot=12.5", want: func(o *Options) { o.Rot = 12.5 }},
	{name: "or degrees", query: "or=90", want: func(o *Options) { o.Orient = 6 }},
	{name: "orient exif", query: "orient=3", want: func(o *Options) { o.Orient = 3 }},
	{name: "orient zero ignores exif", query: "orient=0", want: func(o *Options) { o.Orient = 1 }},
	{name: "imgix parameters not implemented", query: "txt=hi&mark=x.png&w=5&usm=20", want: func(o *Options) { o.W = Dim{Px: 5} },
		ignored: "mark,txt,usm"},
	{name: "alias of an unimplemented parameter", query: "t=1", want: func(o *Options) {}, ignored: "t"},
	{name: "base64 of an unimplemented parameter", query: "txt64=aGk", want: func(o *Options) {}, ignored: "txt64"},
	{name: "dpr", query: "dpr=2.5", want: func(o *Options) { o.DPR = 2.5 }},
	{name: "flip", query: "flip=hv", want: func(o *Options) { o.Flip = FlipH | FlipV }},
	{name: "unknown parameter ignored silently", query: "utm_source=x&ixlib=js-3&w=10", want: func(o *Options) { o.W = Dim{Px: 10} }},
	{name: "signature ignored by Parse", query: "s=abc", want: func(o *Options) {}},

	{name: "w not a number", query: "w=abc", errParam: "w"},
	{name: "w zero", query: "w=0", errParam: "w"},
	{name: "w too large", query: "w=100000", errParam: "w"},
	{name: "w negative", query: "w=-5", errParam: "w"},
	{name: "w fraction above 1", query: "w=1.5", errParam: "w"},
	{name: "w NaN", query: "w=NaN", errParam: "w"},
	{name: "h inf", query: "h=Inf", errParam: "h"},
	{name: "w twice", query: "w=1&w=2", errParam: "w"},
	{name: "unknown fit", query: "fit=stretch", errParam: "fit"},
	{name: "unknown crop", query: "crop=middle", errParam: "crop"},
	{name: "opposite crops", query: "crop=left,right", errParam: "crop"},
	{name: "blur too large", query: "blur=2001", errParam: "blur"},
	{name: "blur negative", query: "blur=-1", errParam: "blur"},
	{name: "blur float", query: "blur=1.5", errParam: "blur"},
	{name: "q negative", query: "q=-1", errParam: "q"},
	{name: "q too large", query: "q=101", errParam: "q"},
	{name: "unknown format", query: "fm=bmp", errParam: "fm"},
	{name: "bad lossless", query: "lossless=yes", errParam: "lossless"},
	{name: "alias twice", query: "f=crop&fit=clip", errParam: "fit"},
	{name: "base64 twice", query: "rect=0,0,1,1&rect64=MCwwLDEsMQ", errParam: "rect64"},
	{name: "bad base64", query: "rect64=***", errParam: "rect64"},
	{name: "rect three parts", query: "rect=0,0,10", errParam: "rect"},
	{name: "rect negative", query: "rect=-1,0,10,10", errParam: "rect"},
	{name: "rect zero width", query: "rect=0,0,0,10", errParam: "rect"},
	{name: "rect fraction above one", query: "rect=0,0,1.5,10", errParam: "rect"},
	{name: "rect named in the wrong place", query: "rect=top,left,10,10", errParam: "rect"},
	{name: "ar without colon", query: "ar=16x9", errParam: "ar"},
	{name: "ar zero", query: "ar=0:1", errParam: "ar"},
	{name: "ar extreme", query: "ar=10000:1", errParam: "ar"},
	{name: "unknown fill", query: "fill=stripes", errParam: "fill"},
	{name: "bad colour", query: "fill-color=notacolour", errParam: "fill-color"},
	{name: "colour five digits", query: "bg=12345", errParam: "bg"},
	{name: "pad negative", query: "pad=-2", errParam: "pad"},
	{name: "pad side not a number", query: "pad-top=x", errParam: "pad-top"},
	{name: "sharp too large", query: "sharp=101", errParam: "sharp"},
	{name: "rot 360", query: "rot=360", errParam: "rot"},
	{name: "rot negative", query: "rot=-90", errParam: "rot"},
	{name: "or not an orientation", query: "or=45", errParam: "or"},
	{name: "orient 9", query: "orient=9", errParam: "orient"},
	{name: "unknown auto", query: "auto=magic", errParam: "auto"},
	{name: "dpr too small", query: "dpr=0.5", errParam: "dpr"},
	{name: "dpr too large", query: "dpr=6", errParam: "dpr"},
	{name: "unknown flip", query: "flip=x", errParam: "flip"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, ign, err := ParseWithIgnored(q)
			if tc.want == nil {
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("Parse(%q) error = %v, want a *params.Error", tc.query, err)
				}
				if pe.Param != tc.errParam {
					t.Errorf("error names %q, want %q", pe.Param, tc.errParam)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, tc.errParam+": ") || !strings.Contains(msg, "allowed") || strings.Contains(msg, "\n") {
					t.Errorf("error %q should be one line naming %s and what is allowed", msg, tc.errParam)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			want := Defaults()
			tc.want(&want)
			if got != want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.query, got, want)
			}
			var shown []string
			for _, i := range ign {
				shown = append(shown, i.Shown)
				if !imgixNames[i.Param] {
					t.Errorf("ignored %q is labelled %q, not a canonical imgix name", i.Shown, i.Param)
				}
			}
			if s := strings.Join(shown, ","); s != tc.ignored {
				t.Errorf("ignored %q, want %q", s, tc.ignored)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	parse := func(s string) Options {
		t.Helper()
		q, _ := url.ParseQuery(s)
		o, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	same := [][2]string{
		{"w=10&h=20&fit=crop", "fit=crop&h=20&w=10"},
		{"", "fit=clip&q=75&dpr=1&blur=0"},
		{"w=10&crop=top", "w=10"}, // crop matters only with fit=crop or min
		{"w=10&utm=1", "w=10"},
		{"fm=jpeg", "fm=jpg"},
		{"fill-color=red&w=10", "w=10"}, // only with fit=fill or fillmax
		{"ar=16:9&w=10", "w=10"},        // only with fit=crop or a filling fit
		{"ar=16:9&fit=crop", "ar=32:18&fit=crop"},
		{"q=75", ""},
		{"auto=compress", "q=45"},
		{"lossless=1", ""}, // JPEG has no lossless mode
		{"txt=hi&mark=a.png", ""},
		{"f=crop&width=10", "fit=crop&w=10"},
	}
	for _, p := range same {
		if a, b := parse(p[0]).Canonical(FormatJPEG), parse(p[1]).Canonical(FormatJPEG); a != b {
			t.Errorf("%q and %q give %q and %q, want the same", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{"w=10", "w=11"},
		{"rect=0,0,10,10", "rect=0,0,10,11"},
		{"fit=crop&ar=16:9", "fit=crop&ar=4:3"},
		{"fit=fill&fill-color=red", "fit=fill&fill-color=blue"},
		{"bg=red", "bg=blue"},
		{"pad=1", "pad=2"},
		{"sharp=1", "sharp=2"},
		{"rot=1", "rot=2"},
		{"or=6", "or=8"},
		{"q=75", "q=76"},
		{"auto=compress", ""},
		{"w=10&fit=crop&crop=top", "w=10&fit=crop"},
		{"w=0.5", "h=0.5"},
		{"blur=1", "blur=2"},
		{"flip=h", "flip=v"},
		{"dpr=2", "dpr=3"},
	}
	for _, p := range differ {
		if a, b := parse(p[0]).Canonical(FormatJPEG), parse(p[1]).Canonical(FormatJPEG); a == b {
			t.Errorf("%q and %q both give %q, want different keys", p[0], p[1], a)
		}
	}
	if parse("lossless=1").Canonical(FormatWebP) == parse("").Canonical(FormatWebP) {
		t.Error("lossless must be part of a WebP key")
	}
	if parse("w=1").Canonical(FormatJPEG) == parse("w=1").Canonical(FormatWebP) {
		t.Error("the negotiated format must be part of the key")
	}
}

// FuzzParse: any query either parses into options within the documented
// bounds or fails with a *params.Error; it never panics.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.query)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		o, err := Parse(q)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *params.Error", err)
			}
			return
		}
		for _, d := range []Dim{o.W, o.H} {
			if d.Px < 0 || d.Px > MaxSide || d.Frac < 0 || d.Frac >= 1 || (d.Px > 0 && d.Frac > 0) {
				t.Fatalf("dimension out of bounds: %+v", d)
			}
		}
		if o.Blur < 0 || o.Blur > MaxBlur || o.Quality < 0 || o.Quality > 100 || o.DPR < 1 || o.DPR > 5 ||
			o.Sharp < 0 || o.Sharp > 100 || o.Rot < 0 || o.Rot >= 360 || o.Orient < 0 || o.Orient > 8 {
			t.Fatalf("options out of bounds: %+v", o)
		}
		_ = o.Canonical(FormatJPEG)
		for _, p := range []int{o.Pad.Top, o.Pad.Right, o.Pad.Bottom, o.Pad.Left} {
			if p < 0 || p > MaxSide {
				t.Fatalf("padding out of bounds: %+v", o.Pad)
			}
		}
		if x, y, w, h, err := o.Rect.Resolve(640, 480); err == nil && (x < 0 || y < 0 || w < 1 || h < 1 || x+w > 640 || y+h > 480) {
			t.Fatalf("rect %s resolves to %d,%d,%d,%d outside 640x480", o.Rect, x, y, w, h)
		}
	})
}

func TestRectResolve(t *testing.T) {
	parse := func(v string) Rect {
		t.Helper()
		var r Rect
		if err := r.parse(v); err != nil {
			t.Fatalf("rect=%s: %v", v, err)
		}
		return r
	}
	for _, c := range []struct {
		rect       string
		x, y, w, h int
		fails      bool
	}{
		{"0,0,100,100", 0, 0, 100, 100, false},
		{"center,middle,200,100", 300, 250, 200, 100, false},
		{"right,bottom,200,100", 600, 500, 200, 100, false},
		{"left,top,full,0.5", 0, 0, 800, 300, false},
		{"0.5,0.5,0.5,0.5", 400, 300, 400, 300, false},
		{"700,550,500,500", 700, 550, 100, 50, false}, // cut to the source
		{"center,middle,2000,2000", 0, 0, 800, 600, false},
		{"800,0,10,10", 0, 0, 0, 0, true},
		{"0,1.0,10,10", 0, 0, 0, 0, true},
	} {
		x, y, w, h, err := parse(c.rect).Resolve(800, 600)
		if c.fails {
			var pe *Error
			if !errors.As(err, &pe) || pe.Param != "rect" || !strings.Contains(err.Error(), "allowed") {
				t.Errorf("rect=%s: error %v, want a rect error saying what is allowed", c.rect, err)
			}
			continue
		}
		if err != nil || x != c.x || y != c.y || w != c.w || h != c.h {
			t.Errorf("rect=%s on 800x600 = %d,%d,%d,%d (%v), want %d,%d,%d,%d", c.rect, x, y, w, h, err, c.x, c.y, c.w, c.h)
		}
	}
}

func TestQualityFor(t *testing.T) {
	parse := func(q string) Options {
		v, _ := url.ParseQuery(q)
		o, err := Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, c := range []struct {
		q    string
		fm   Format
		want int
	}{
		{"", FormatJPEG, 75}, {"", FormatAVIF, 60}, {"auto=compress", FormatJPEG, 45}, {"auto=compress", FormatAVIF, 45},
		{"q=90&auto=compress", FormatAVIF, 90}, {"q=0", FormatWebP, 0},
	} {
		if got := parse(c.q).QualityFor(c.fm); got != c.want {
			t.Errorf("%q as %s: quality %d, want %d", c.q, c.fm, got, c.want)
		}
	}
}
