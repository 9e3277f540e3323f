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
	{name: "quality", query: "q=1", want: func(o *Options) { o.Quality = 1 }},
	{name: "formats", query: "fm=webp", want: func(o *Options) { o.Format = FormatWebP }},
	{name: "jpeg alias", query: "fm=jpeg", want: func(o *Options) { o.Format = FormatJPEG }},
	{name: "png", query: "fm=png", want: func(o *Options) { o.Format = FormatPNG }},
	{name: "auto format", query: "auto=format,compress", want: func(o *Options) { o.AutoFormat = true }},
	{name: "dpr", query: "dpr=2.5", want: func(o *Options) { o.DPR = 2.5 }},
	{name: "flip", query: "flip=hv", want: func(o *Options) { o.Flip = FlipH | FlipV }},
	{name: "unknown parameter ignored", query: "txt=hello&w=10", want: func(o *Options) { o.W = Dim{Px: 10} }},
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
	{name: "q zero", query: "q=0", errParam: "q"},
	{name: "q too large", query: "q=101", errParam: "q"},
	{name: "unknown format", query: "fm=gif", errParam: "fm"},
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
			got, err := Parse(q)
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
	}
	for _, p := range same {
		if a, b := parse(p[0]).Canonical(FormatJPEG), parse(p[1]).Canonical(FormatJPEG); a != b {
			t.Errorf("%q and %q give %q and %q, want the same", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{"w=10", "w=11"},
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
		if o.Blur < 0 || o.Blur > MaxBlur || o.Quality < 1 || o.Quality > 100 || o.DPR < 1 || o.DPR > 5 {
			t.Fatalf("options out of bounds: %+v", o)
		}
		_ = o.Canonical(FormatJPEG)
	})
}
