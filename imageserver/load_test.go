package imageserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hostpush/hostpush/internal/procs"
)

// BenchmarkLoadPeakRSS: peak RSS (VmHWM) of a fresh bin/imageserver after
// two transforms at once at the default output limits (4096x2048, AVIF
// 2048x1024, cut from the 12 MP sample photo), per output format, and a
// WebP beside an AVIF (an AVIF holds one of the two workers). This is the
// measurement behind pipeline.DefaultMaxOutputPixels; the load scenarios
// (overload, avif-burst) are in cmd/imagebench.
//
//	go test -run '^$' -bench LoadPeakRSS -benchtime 1x ./imageserver/ [-args -load.peak.size=WxH -load.peak.avif=WxH]
func BenchmarkLoadPeakRSS(b *testing.B) {
	for b.Loop() {
		loadPeakRSS(b)
	}
}

var (
	peakSize     = flag.String("load.peak.size", "4096x2048", "output size of the peak RSS benchmark (the default output limit)")
	peakAVIFSize = flag.String("load.peak.avif", "2048x1024", "AVIF output size of the peak RSS benchmark (the default AVIF limit)")
)

func loadPeakRSS(b *testing.B) {
	var w, h, aw, ah int
	if _, err := fmt.Sscanf(*peakSize+" "+*peakAVIFSize, "%dx%d %dx%d", &w, &h, &aw, &ah); err != nil {
		b.Fatalf("-load.peak.size, -load.peak.avif: %v", err)
	}
	big, avif := fmt.Sprintf("w=%d&h=%d", w, h), fmt.Sprintf("w=%d&h=%d&fm=avif", aw, ah)
	b.Logf("outputs %dx%d = %.1f MP, AVIF %dx%d = %.1f MP; load average %s", w, h, float64(w*h)/1e6, aw, ah, float64(aw*ah)/1e6, procs.LoadAvgText())
	bin := buildServer(b)
	for _, c := range []struct {
		name string
		qs   []string
	}{
		{"idle", nil},
		{"jpg-x2", []string{big + "&fm=jpg", big + "&fm=jpg"}},
		{"png-x2", []string{big + "&fm=png", big + "&fm=png"}},
		{"webp-x2", []string{big + "&fm=webp", big + "&fm=webp"}},
		{"avif", []string{avif}},
		{"webp+avif", []string{big + "&fm=webp", avif}},
	} {
		base, pid := startServer(b, bin)
		codes := peakRun(base, c.qs)
		u, err := procs.ReadUsage(pid)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%-10s codes %v, peak RSS %.0f MB", c.name, codes, float64(u.PeakRSS)/1e6)
		b.ReportMetric(float64(u.PeakRSS)/1e6, c.name+"-MB")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildServer builds cmd/imageserver once per test binary.
func buildServer(b testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "imageserver-load-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "imageserver")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/imageserver").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binPath
}

// startServer runs a fresh server on the sample photo as gophers.jpg.
func startServer(b testing.TB, bin string) (base string, pid int) {
	b.Helper()
	ctx := context.Background()
	imgs := b.TempDir()
	if err := procs.SampleImage(ctx, imgs, "gophers.jpg"); err != nil {
		b.Fatal(err)
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	p, err := procs.StartImageServer(ctx, bin, addr, imgs, []string{"--log.level=warn"}, os.Stderr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Stop(10 * time.Second) })
	return "http://" + addr, p.Pid()
}

// peakRun sends the queries at once, twice (distinct by q).
func peakRun(base string, qs []string) []int {
	var codes []int
	var mu sync.Mutex
	c := &http.Client{Timeout: 60 * time.Second}
	for round := range 2 {
		var wg sync.WaitGroup
		for i, q := range qs {
			wg.Go(func() {
				code := -1
				r, err := c.Get(fmt.Sprintf("%s/assets/images/gophers.jpg?fit=crop&%s&q=%d", base, q, 70+round*len(qs)+i))
				if err == nil {
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					code = r.StatusCode
				}
				mu.Lock()
				codes = append(codes, code)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	return codes
}
