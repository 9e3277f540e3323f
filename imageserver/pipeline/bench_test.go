package pipeline

import (
	"context"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/hostpush/hostpush/imageserver/params"
	"github.com/hostpush/hostpush/internal/procs"
)

type stepTimes map[string]time.Duration

func (m stepTimes) ObserveStep(step string, d time.Duration) { m[step] += d }

func photo(b *testing.B) []byte {
	b.Helper()
	p, err := procs.SampleImagePath(context.Background())
	if err != nil {
		b.Skipf("12 MP photo unavailable: %v", err)
	}
	src, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return src
}

// BenchmarkSeed is the seed transform on the real 12 MP photo, one at a time;
// the reported step-ms are wall time per step (libvips renders in encode).
func BenchmarkSeed(b *testing.B) {
	for _, q := range []string{
		"fit=crop&w=1024&h=1024&crop=center&blur=4",
		"fit=crop&w=1024&h=1024&crop=center",
		"fit=crop&w=1024&h=1024&crop=center&blur=200",
		"fit=crop&w=1024&h=1024&crop=center&blur=2000",
		"w=512",
		"fit=crop&w=1024&h=1024&crop=entropy",
		"fit=crop&w=1024&h=1024&fm=webp",
		"fit=crop&w=1024&h=1024&crop=center&blur=4&fm=webp",
		"fit=crop&w=1024&h=1024&crop=center&blur=4&fm=avif",
		"fit=crop&w=2048&h=1024&crop=center&fm=avif",
		"fit=crop&w=2048&h=1024&crop=center&fm=jpg",
	} {
		b.Run(q, func(b *testing.B) { benchQuery(b, q) })
	}
}

func benchQuery(b *testing.B, q string) {
	src := photo(b)
	v, _ := url.ParseQuery(q)
	o, err := params.Parse(v)
	if err != nil {
		b.Fatal(err)
	}
	fm := o.Format
	if fm == "" {
		fm = params.FormatJPEG
	}
	times := stepTimes{}
	p, err := New(DefaultConfig(), times, discard())
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Process(context.Background(), src, o, fm); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	for name, d := range times {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), name+"-ms")
	}
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
