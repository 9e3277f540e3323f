package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/hostpush/hostpush/agent"
	"github.com/hostpush/hostpush/agent/remotewrite"
	"github.com/hostpush/hostpush/internal/batch"
)

// TestRemoteWriteErrorsNameTheOutputOnce: a remote_write output that
// cannot be built, and a batch it cannot keep, are each reported with
// "remote_write <name>:" once, not once per layer.
func TestRemoteWriteErrorsNameTheOutputOnce(t *testing.T) {
	cfg := remotewrite.DefaultConfig()
	cfg.URL, cfg.Name = "http://127.0.0.1:1/api/v1/write", "rw"
	cfg.Buffer.MaxBytes, cfg.Buffer.StoragePath = 64<<10, t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	holder, err := remotewrite.New(cfg, logger, nil) // holds the storage_path
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(canceled())
	once := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one about %q", err, want)
		}
		if n := strings.Count(err.Error(), "remote_write rw:"); n != 1 {
			t.Errorf("%q names the output %d times, want once", err, n)
		}
	}

	t.Run("building", func(t *testing.T) {
		w := &wiring{logger: logger, reg: prometheus.NewRegistry()}
		other := cfg
		other.Buffer.MaxBatches = 5 // a new Writer on the held directory
		_, _, err := w.buildWriters([]remotewrite.Config{other})
		once(t, err, "in use")
		if !errors.Is(err, remotewrite.ErrStorageInUse) {
			t.Errorf("%v is not ErrStorageInUse", err)
		}
	})

	t.Run("sending", func(t *testing.T) {
		mem := cfg
		mem.Buffer.StoragePath = ""
		wr, err := remotewrite.New(mem, logger, nil)
		if err != nil {
			t.Fatal(err)
		}
		loop := agent.New(agent.Config{
			Settings: agent.Settings{Interval: time.Second, Timeout: time.Second, Job: "j",
				Grouping: []batch.Label{{Name: "instance", Value: "h"}}, Senders: []batch.Sender{wr}},
			Host:   prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return []*dto.MetricFamily{largeFamily()}, nil }),
			Logger: logger,
		})
		once(t, loop.Once(t.Context()), "exceeds buffer.max_bytes")
	})
}

// largeFamily is a gauge of 20,000 series whose write request compresses
// to well over 64KiB.
func largeFamily() *dto.MetricFamily {
	f := &dto.MetricFamily{Name: proto.String("large"), Type: dto.MetricType_GAUGE.Enum()}
	for i := range 20000 {
		f.Metric = append(f.Metric, &dto.Metric{Gauge: &dto.Gauge{Value: proto.Float64(float64(i) * 1.37)},
			Label: []*dto.LabelPair{{Name: proto.String("id"), Value: proto.String(fmt.Sprintf("%x-%s", i*7919, time.Duration(i*7919)))}}})
	}
	return f
}
