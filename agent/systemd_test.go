package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hostpush/hostpush/internal/batch"
)

// TestNotifyProtocol runs the loop with the real sd_notify client against a
// unixgram socket standing in for systemd, with the watchdog environment
// systemd sets, and checks the datagrams: READY=1, STATUS=, WATCHDOG=1 and
// STOPPING=1.
func TestNotifyProtocol(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	if wd := SystemdWatchdog(); wd != 200*time.Millisecond {
		t.Fatalf("SystemdWatchdog() = %s, want 200ms from WATCHDOG_USEC", wd)
	}
	var (
		mu   sync.Mutex
		got  []string
		read = make(chan struct{})
	)
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()

	reg := prometheus.NewRegistry()
	l := New(Config{
		Settings: Settings{Interval: 50 * time.Millisecond, Timeout: 25 * time.Millisecond, Job: "j",
			Grouping: []batch.Label{{Name: "instance", Value: "h"}}, Senders: []batch.Sender{&recSender{name: "s"}}},
		Host: reg, Metrics: NewMetrics(reg), Notifier: SystemdNotifier{}, Watchdog: SystemdWatchdog(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(t.Context())
	// Stop once two watchdog pings arrived (or give up after a while).
	go func() {
		defer cancel()
		for range 100 {
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			n := strings.Count(strings.Join(got, "\n"), "WATCHDOG=1")
			mu.Unlock()
			if n >= 2 {
				return
			}
		}
	}()
	if err := l.Run(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	<-read

	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(got, "\n")
	for _, want := range []string{"READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=pushed "} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q among the datagrams: %q", want, got)
		}
	}
	if got[0] != "READY=1" {
		t.Errorf("first datagram %q, want READY=1", got[0])
	}
}
