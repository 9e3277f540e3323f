package imageserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/imageserver/pipeline"
	"github.com/hostpush/hostpush/imageserver/testimages"
)

// TestIgnoredParams: imgix parameters that are not implemented are named
// in a header and counted by canonical name; others stay silent.
func TestIgnoredParams(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/assets/images/photo.jpg?w=40&txt=hello&t=x&fm=jxr&utm_source=mail&crop=faces")
	if r.code != 200 {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	if got, want := r.header.Get(IgnoredHeader), "crop=faces, fm=jxr, t, txt"; got != want {
		t.Errorf("%s: %q, want %q", IgnoredHeader, got, want)
	}
	for param, want := range map[string]float64{"txt": 2, "crop": 1, "fm": 1} { // t is an alias of txt
		if got := testutil.ToFloat64(f.srv.m.ignored.WithLabelValues(param)); got != want {
			t.Errorf("ignored %s counted %v, want %v", param, got, want)
		}
	}
	if r := f.get(t, "/assets/images/photo.jpg?w=41&utm_source=mail"); r.header.Get(IgnoredHeader) != "" {
		t.Errorf("a request without imgix parameters to ignore names %q", r.header.Get(IgnoredHeader))
	}
	if !strings.Contains(f.get(t, "/metrics").body, `imageserver_ignored_params_total{param="txt"} 2`) {
		t.Error("/metrics lacks the ignored parameter counter")
	}
}

func TestAccepts(t *testing.T) {
	for _, c := range []struct {
		accept     string
		webp, avif bool
	}{
		{"image/avif,image/webp,image/apng,*/*;q=0.8", true, true},
		{"image/webp", true, false},
		{"image/webp;q=0", false, false},
		{"image/webp; q=0.0, */*", false, false},
		{"image/webp;q=0.5", true, false},
		{"IMAGE/WEBP", true, false},
		{"image/*", false, false},
		{"*/*", false, false},
		{"", false, false},
		{"image/avif;q=0, image/webp;q=0.9", true, false},
		{"text/html, image/webpx", false, false},
		{"image/webp;q=abc", false, false},
	} {
		if got := accepts(c.accept, "webp"); got != c.webp {
			t.Errorf("Accept %q: webp %v, want %v", c.accept, got, c.webp)
		}
		if got := accepts(c.accept, "avif"); got != c.avif {
			t.Errorf("Accept %q: avif %v, want %v", c.accept, got, c.avif)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		q, name, accept string
		avifOn          bool
		want            params.Format
		vary            bool
	}{
		{"", "a.jpg", "image/webp", false, params.FormatJPEG, false},
		{"auto=format", "a.jpg", "image/avif,image/webp", false, params.FormatWebP, true},
		{"auto=format", "a.jpg", "image/avif,image/webp", true, params.FormatAVIF, true},
		{"auto=format", "a.png", "image/avif;q=0,image/webp;q=0", true, params.FormatPNG, true},
		{"auto=format&fm=jpg", "a.png", "image/webp", true, params.FormatJPEG, false},
		{"", "a.gif", "", false, params.FormatPNG, false},
		{"", "a.heic", "", false, params.FormatJPEG, false},
		{"", "a.avif", "", false, params.FormatAVIF, false},
		{"", "a.TIFF", "", false, params.FormatJPEG, false},
	} {
		o := params.Defaults()
		o.AutoFormat = strings.Contains(c.q, "auto=format")
		if strings.Contains(c.q, "fm=jpg") {
			o.Format = params.FormatJPEG
		}
		fm, vary := negotiate(o, c.name, c.accept, c.avifOn)
		if fm != c.want || vary != c.vary {
			t.Errorf("%s %s Accept %q avif %v: %s vary %v, want %s vary %v", c.q, c.name, c.accept, c.avifOn, fm, vary, c.want, c.vary)
		}
	}
}

// TestAVIF: fm=avif runs in the AVIF pool and is cached; auto=format picks
// AVIF only when the operator turns it on.
func TestAVIF(t *testing.T) {
	f := newFixture(t, nil)
	u := "/assets/images/photo.jpg?w=64&fm=avif"
	r := f.get(t, u)
	if r.code != 200 || r.header.Get("Content-Type") != "image/avif" {
		t.Fatalf("fm=avif: %d %s %.80s", r.code, r.header.Get("Content-Type"), r.body)
	}
	if n := histCount(t, f.reg, "imageserver_queue_wait_seconds", `pool="avif"`); n != 1 {
		t.Errorf("%d transforms in the avif pool, want 1", n)
	}
	if n := histCount(t, f.reg, "imageserver_queue_wait_seconds", `pool="default"`); n != 1 {
		t.Errorf("the AVIF transform took %d default workers, want 1", n)
	}
	if again := f.get(t, u); again.body != r.body || testutil.ToFloat64(f.srv.m.hits) != 1 {
		t.Error("the AVIF result was not cached")
	}
	auto := "/assets/images/photo.jpg?w=64&auto=format"
	if r := f.get(t, auto, "Accept", "image/avif,image/webp"); r.header.Get("Content-Type") != "image/webp" {
		t.Errorf("auto=format with AVIF off: %s, want image/webp", r.header.Get("Content-Type"))
	}
	on := newFixture(t, func(c *Config) { c.AVIF.AutoFormat = true })
	if r := on.get(t, auto, "Accept", "image/avif,image/webp"); r.header.Get("Content-Type") != "image/avif" || r.header.Get("Vary") != "Accept" {
		t.Errorf("auto=format with AVIF on: %s, Vary %q", r.header.Get("Content-Type"), r.header.Get("Vary"))
	}
}

// TestAVIFCannotStarve: while AVIF work holds its only worker and fills its
// queue, more AVIF requests are refused at once and JPEG requests are
// served by the default workers.
func TestAVIFCannotStarve(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AVIF.Admission.QueueSize, c.AVIF.Admission.Timeout = 2, time.Minute })
	if r := f.get(t, "/assets/images/photo.jpg?fm=avif&w=8"); r.code != 200 { // past the cold start
		t.Fatalf("warm-up: %d %s", r.code, r.body)
	}
	block := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(block) })
	t.Cleanup(unblock) // before the fixture's: a failed test must not leave handlers blocked
	f.srv.pipe = avifBlocker{f.srv.pipe, block}
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for i := range 3 { // one runs, two wait
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- f.get(t, fmt.Sprintf("/assets/images/sub/pic.png?fm=avif&w=%d", 10+i)).code
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.srv.avif.adm.InFlight() != 1 || f.srv.avif.adm.Waiting() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("avif pool: %d in flight, %d waiting", f.srv.avif.adm.InFlight(), f.srv.avif.adm.Waiting())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := f.get(t, "/assets/images/sub/pic.png?fm=avif&w=99"); r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("AVIF over its queue: %d, want 503 with Retry-After", r.code)
	}
	for i := range 4 {
		if r := f.get(t, fmt.Sprintf("/assets/images/photo.jpg?w=%d", 30+i)); r.code != 200 {
			t.Errorf("JPEG while the AVIF pool is full: %d %s", r.code, r.body)
		}
	}
	unblock()
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("blocked AVIF request answered %d", c)
		}
	}
}

// avifBlocker holds every AVIF transform until block is closed.
type avifBlocker struct {
	processor
	block chan struct{}
}

func (p avifBlocker) Process(ctx context.Context, src []byte, opts params.Options, fm params.Format) (pipeline.Result, error) {
	if fm == params.FormatAVIF {
		<-p.block
	}
	return p.processor.Process(ctx, src, opts, fm)
}

// TestSourceFormatsServed: HEIC, AVIF, GIF and TIFF sources are served.
func TestSourceFormatsServed(t *testing.T) {
	f := newFixture(t, nil)
	pic := testimages.Gradient(90, 60)
	heic, err := testimages.HEIC(pic)
	must(t, err)
	avif, err := testimages.AVIF(pic)
	must(t, err)
	files := map[string][]byte{"a.heic": heic, "a.avif": avif, "a.gif": testimages.GIF(pic), "a.tif": testimages.TIFF(pic),
		"bomb.heic": testimages.WithISPESize(heic, 40000, 40000)}
	for name, b := range files {
		must(t, os.WriteFile(filepath.Join(f.dir, name), b, 0o644))
	}
	for name, ct := range map[string]string{"a.heic": "image/jpeg", "a.avif": "image/avif", "a.gif": "image/png", "a.tif": "image/jpeg"} {
		if r := f.get(t, "/assets/images/"+name+"?w=45"); r.code != 200 || r.header.Get("Content-Type") != ct {
			t.Errorf("%s: %d %s %.80s, want 200 %s", name, r.code, r.header.Get("Content-Type"), r.body, ct)
		}
	}
	if r := f.get(t, "/assets/images/bomb.heic?w=45"); r.code != 422 || !strings.Contains(r.body, "allowed: at most 50000000") {
		t.Errorf("HEIC bomb: %d %q", r.code, r.body)
	}
}
