package imageserver

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/hostpush/hostpush/imageserver/internal/testphoto"
)

// The load benchmarks run the real binary on the real 12 MP photo and
// drive it over loopback: the overload run (503 latency and goodput
// against the rate the same server sustains on its own, measured first in
// the same run), the AVIF burst (the seed URL's latency while 20 AVIF
// requests arrive at once) and the peak RSS of transforms at the output
// pixel limit. They measure and report; they fail only when they cannot
// measure. Each phase lasts -load.duration:
//
//	go test -run '^$' -bench Load -benchtime 1x ./imageserver/ -args -load.duration=30s
var loadDuration = flag.Duration("load.duration", 20*time.Second, "length of each phase of the load benchmarks")

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// loadServer is bin/imageserver serving the photo as gophers.jpg.
type loadServer struct {
	base string
	pid  int
}

func startLoadServer(b testing.TB, args ...string) *loadServer {
	b.Helper()
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
	photo, err := testphoto.Path()
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile(photo)
	if err != nil {
		b.Fatal(err)
	}
	imgs := b.TempDir()
	if err := os.WriteFile(filepath.Join(imgs, "gophers.jpg"), src, 0o644); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binPath, append([]string{"--images.dir=" + imgs, "--web.listen-address=" + addr, "--log.level=warn"}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	s := &loadServer{base: "http://" + addr, pid: cmd.Process.Pid}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r, err := http.Get(s.base + "/healthz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the server did not answer /healthz within 20 s")
		}
	}
}

// seedURL is the seed transform made distinct by i (as loadbench does):
// sizes a few pixels apart and qualities, all of about the same cost.
func (s *loadServer) seedURL(i uint64) string {
	return fmt.Sprintf("%s/assets/images/gophers.jpg?fit=crop&w=%d&h=%d&crop=center&blur=4&q=%d", s.base, 1024-i%32, 1024-(i/32)%32, 75+(i/1024)%5)
}

// metrics returns the server's /metrics lines that start with one of prefixes.
func (s *loadServer) metrics(prefixes ...string) string {
	r, err := http.Get(s.base + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, strings.TrimPrefix(l, "imageserver_"))
			}
		}
	}
	return strings.Join(out, ", ")
}

type sample struct {
	at      time.Time // when it was sent
	code    int
	latency time.Duration
}

// get sends one request and reads the whole answer.
func get(c *http.Client, url string) sample {
	start := time.Now()
	r, err := c.Get(url)
	if err != nil {
		return sample{start, -1, time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return sample{start, r.StatusCode, time.Since(start)}
}

// closedLoop keeps n requests in flight for d: the rate the server
// sustains on its own, without a queue.
func closedLoop(s *loadServer, n int, d time.Duration, seq *atomic.Uint64) []sample {
	var mu sync.Mutex
	var out []sample
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	c := &http.Client{Timeout: 30 * time.Second}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				r := get(c, s.seedURL(seq.Add(1)))
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// openLoop sends rate requests per second for d with vegeta, whatever the
// answers take.
func openLoop(s *loadServer, rate int, d time.Duration, url func() string) []sample {
	targeter := func(t *vegeta.Target) error {
		t.Method, t.URL = "GET", url()
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.KeepAlive(true), vegeta.MaxWorkers(500))
	var out []sample
	for r := range atk.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, d, "load") {
		out = append(out, sample{r.Timestamp, int(r.Code), r.Latency})
	}
	return out
}

type summary struct {
	n, ok, busy, other       int
	okP50, okP99, okMax      time.Duration
	busyP50, busyP99, busyMx time.Duration
}

func summarize(rs []sample) summary {
	var s summary
	var ok, busy []time.Duration
	for _, r := range rs {
		s.n++
		switch r.code {
		case 200:
			ok = append(ok, r.latency)
		case 503:
			busy = append(busy, r.latency)
		default:
			s.other++
		}
	}
	s.ok, s.busy = len(ok), len(busy)
	s.okP50, s.okP99, s.okMax = quantiles(ok)
	s.busyP50, s.busyP99, s.busyMx = quantiles(busy)
	return s
}

func quantiles(ds []time.Duration) (p50, p99, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.5), at(0.99), ds[len(ds)-1]
}

func (s summary) String() string {
	return fmt.Sprintf("%d requests: %d 200 (p50 %s, p99 %s, max %s), %d 503 (p50 %s, p99 %s, max %s), %d other",
		s.n, s.ok, ms(s.okP50), ms(s.okP99), ms(s.okMax), s.busy, ms(s.busyP50), ms(s.busyP99), ms(s.busyMx), s.other)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d.Microseconds())/1000) }

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return string(b[:min(len(b), 14)])
}

// BenchmarkLoadOverload: first the rate the server sustains with two
// requests always in flight (its two workers busy, no queue), then 50
// distinct uncached seed requests per second: goodput against that rate,
// how fast the 503s come and the slowest success.
func BenchmarkLoadOverload(b *testing.B) {
	for b.Loop() {
		loadOverload(b)
	}
}

func loadOverload(b *testing.B) {
	s := startLoadServer(b)
	var seq atomic.Uint64
	b.Logf("load average before: %s", loadAvg())
	base := closedLoop(s, 2, *loadDuration, &seq)
	sustained := float64(summarize(base).ok) / loadDuration.Seconds()
	over := summarize(openLoop(s, 50, *loadDuration, func() string { return s.seedURL(seq.Add(1)) }))
	goodput := float64(over.ok) / loadDuration.Seconds()
	b.Logf("sustained (2 in flight, %s): %s", loadDuration, summarize(base))
	b.Logf("overload (50/s, %s): %s", loadDuration, over)
	b.Logf("goodput %.2f req/s vs sustained %.2f req/s = %.3f; 503 p99 %s; slowest 200 %s; load average after: %s",
		goodput, sustained, goodput/sustained, ms(over.busyP99), ms(over.okMax), loadAvg())
	b.Logf("server: %s", s.metrics("imageserver_rejections_total{reason=\"queue", "imageserver_transform_hold_seconds"))
	b.ReportMetric(sustained, "sustained-req/s")
	b.ReportMetric(goodput, "goodput-req/s")
	b.ReportMetric(goodput/sustained, "goodput/sustained")
	b.ReportMetric(float64(over.busyP99.Microseconds())/1000, "503-p99-ms")
	b.ReportMetric(float64(over.okMax.Microseconds())/1000, "200-max-ms")
}

// BenchmarkLoadAVIFBurst: the seed URL (distinct, uncached) at 8 req/s,
// below what the server sustains; a third of the way in, 20 distinct AVIF
// requests of the same transform arrive at once. Reports the seed's
// latency before the burst and while the AVIF requests are in the server,
// and what the AVIF requests got.
func BenchmarkLoadAVIFBurst(b *testing.B) {
	for b.Loop() {
		loadAVIFBurst(b)
	}
}

func loadAVIFBurst(b *testing.B) {
	s := startLoadServer(b)
	var seq atomic.Uint64
	warm := &http.Client{Timeout: 30 * time.Second}
	for range 4 { // past the cold start, so that "before" is the steady state
		get(warm, s.seedURL(seq.Add(1)))
		get(warm, s.seedURL(seq.Add(1))+"&fm=avif")
	}
	var burstStart, burstEnd time.Time
	var avif []sample
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(*loadDuration / 3)
		burstStart = time.Now()
		avif = burst(s, 20)
		burstEnd = time.Now()
	}()
	seed := openLoop(s, 8, *loadDuration, func() string { return s.seedURL(seq.Add(1)) })
	wg.Wait()
	var before, during []sample
	for _, r := range seed {
		switch {
		case r.at.Before(burstStart):
			before = append(before, r)
		case r.at.Before(burstEnd):
			during = append(during, r)
		}
	}
	sb, sd, sa := summarize(before), summarize(during), summarize(avif)
	b.Logf("load average: %s; server: %s", loadAvg(), s.metrics("imageserver_rejections_total{reason=\"queue", "imageserver_queue_wait_seconds_count"))
	b.Logf("seed before the burst: %s", sb)
	b.Logf("seed during the burst (%s): %s", ms(burstEnd.Sub(burstStart)), sd)
	b.Logf("the 20 AVIF requests: %s", sa)
	b.ReportMetric(float64(sb.okP99.Microseconds())/1000, "seed-p99-before-ms")
	b.ReportMetric(float64(sd.okP99.Microseconds())/1000, "seed-p99-during-ms")
	b.ReportMetric(float64(sd.okMax.Microseconds())/1000, "seed-max-during-ms")
	b.ReportMetric(float64(sa.ok), "avif-200s")
	b.ReportMetric(float64(sa.busy), "avif-503s")
}

// burst sends n distinct AVIF seed requests at once.
func burst(s *loadServer, n int) []sample {
	out := make([]sample, n)
	var wg sync.WaitGroup
	c := &http.Client{Timeout: 30 * time.Second}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = get(c, s.seedURL(uint64(50000+i))+"&fm=avif")
		}()
	}
	wg.Wait()
	return out
}

// BenchmarkLoadPeakRSS: peak RSS (VmHWM) of a fresh server after two
// transforms at once at the default output limits (4096x2048, AVIF
// 2048x1024, cut from the 12 MP photo), per output format, and a WebP
// beside an AVIF (an AVIF holds one of the two workers).
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
	b.Logf("outputs %dx%d = %.1f MP, AVIF %dx%d = %.1f MP", w, h, float64(w*h)/1e6, aw, ah, float64(aw*ah)/1e6)
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
		s := startLoadServer(b)
		codes := peakRun(s, c.qs)
		hwm := peakRSS(b, s.pid)
		b.Logf("%-10s codes %v, peak RSS %.0f MB", c.name, codes, float64(hwm)/1e6)
		b.ReportMetric(float64(hwm)/1e6, c.name+"-MB")
	}
}

// peakRun sends the queries at once, twice (distinct by q).
func peakRun(s *loadServer, qs []string) []int {
	var codes []int
	var mu sync.Mutex
	c := &http.Client{Timeout: 60 * time.Second}
	for round := range 2 {
		var wg sync.WaitGroup
		for i, q := range qs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := get(c, fmt.Sprintf("%s/assets/images/gophers.jpg?fit=crop&%s&q=%d", s.base, q, 70+round*len(qs)+i))
				mu.Lock()
				codes = append(codes, r.code)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	return codes
}

// peakRSS is the process's VmHWM in bytes.
func peakRSS(b testing.TB, pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	st, err := p.NewStatus()
	if err != nil {
		b.Fatal(err)
	}
	return int64(st.VmHWM)
}
