package remotewrite

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func rwbFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+recordSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDiskBufferSurvivesRestart closes a Writer during an outage and
// starts a new one on the same directory: every batch arrives, oldest
// first, once.
func TestDiskBufferSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.Buffer.StoragePath = dir
		w1, _ := startWriter(t, cfg, down())
		for i := range 5 {
			if err := w1.Send(t.Context(), smallBatch(time.Now(), i)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		ctx, cancel := timeout(t, time.Second)
		defer cancel()
		if err := w1.Close(ctx); err != nil {
			t.Fatalf("Close with batches on disk: %v", err)
		}
		if n := len(rwbFiles(t, dir)); n != 5 {
			t.Fatalf("%d batch files on disk after Close, want 5", n)
		}
		rcv := accept()
		w2, _ := startWriter(t, cfg, rcv)
		if got := testutil.ToFloat64(w2.m.batches); got != 5 {
			t.Errorf("recovered buffer_batches %v, want 5", got)
		}
		w2.Send(t.Context(), smallBatch(time.Now(), 5))
		time.Sleep(10 * time.Second)
		if _, values := rcv.snapshot(); !slices.Equal(values, []float64{0, 1, 2, 3, 4, 5}) {
			t.Errorf("delivered %v, want [0 1 2 3 4 5]", values)
		}
		if n := len(rwbFiles(t, dir)); n != 0 {
			t.Errorf("%d batch files left after delivery", n)
		}
		closeWriter(t, w2)
	})
}

// TestDiskBufferCorruption damages batch files in the ways a crash or a
// bad disk does and checks the rest is still delivered in order and the
// damage counted.
func TestDiskBufferCorruption(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.Buffer.StoragePath = dir
		w1, _ := startWriter(t, cfg, down())
		for i := range 5 {
			w1.Send(t.Context(), smallBatch(time.Now(), i))
		}
		ctx, cancel := timeout(t, time.Second)
		defer cancel()
		w1.Close(ctx)
		files := rwbFiles(t, dir)
		slices.Sort(files)
		truncate(t, files[1], headerSize+3)              // torn write: header intact
		flipByte(t, files[2], -1)                        // bit rot in the body
		os.WriteFile(files[3], []byte("garbage"), 0o600) // not a record at all
		os.WriteFile(filepath.Join(dir, "00000000000000ff"+recordSuffix+tmpSuffix), []byte("half"), 0o600)
		os.WriteFile(filepath.Join(dir, "README"), []byte("not ours"), 0o600)

		rcv := accept()
		w2, _ := startWriter(t, cfg, rcv)
		time.Sleep(10 * time.Second)
		if _, values := rcv.snapshot(); !slices.Equal(values, []float64{0, 4}) {
			t.Errorf("delivered %v, want the intact batches [0 4]", values)
		}
		if got := testutil.ToFloat64(w2.m.dropped.WithLabelValues(dropCorrupt)); got != 2 {
			t.Errorf("dropped{corrupt} %v, want 2 (the two files with an intact header)", got)
		}
		left, _ := os.ReadDir(dir)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		if !slices.Equal(names, []string{"README", lockName}) {
			t.Errorf("directory holds %v, want only README (not ours) and the lock", names)
		}
		closeWriter(t, w2)
	})
}

// TestDiskFullFallsBackToMemory makes every disk write hit ENOSPC from the
// kernel (/dev/full): Send keeps working from memory, counts it, and the
// disk is used again once it takes writes.
func TestDiskFullFallsBackToMemory(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Buffer.StoragePath = dir
	cfg.MinBackoff, cfg.MaxBackoff = mdur(time.Hour), mdur(time.Hour)
	rcv, up := recovering(http.StatusServiceUnavailable)
	w, _ := startWriter(t, cfg, rcv)
	var full atomic.Bool
	full.Store(true)
	w.store.create = func(p string) (fileWriter, error) {
		if full.Load() {
			return os.OpenFile("/dev/full", os.O_WRONLY, 0)
		}
		return createFile(p)
	}
	if _, err := w.store.write(99, time.Now(), 1, []byte("x")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write to /dev/full: %v, want ENOSPC", err)
	}
	for i := range 3 {
		if err := w.Send(t.Context(), smallBatch(time.Now(), i)); err != nil {
			t.Fatalf("Send with a full disk: %v", err)
		}
	}
	if got := testutil.ToFloat64(w.m.diskFallbacks); got != 3 {
		t.Errorf("buffer_disk_fallbacks_total %v, want 3", got)
	}
	if n := len(rwbFiles(t, dir)); n != 0 {
		t.Errorf("%d batch files written to a full disk", n)
	}
	full.Store(false)
	w.Send(t.Context(), smallBatch(time.Now(), 3))
	if n := len(rwbFiles(t, dir)); n != 1 {
		t.Errorf("%d batch files once the disk takes writes again, want 1", n)
	}
	up.Store(true)
	ctx, cancel := timeout(t, 5*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, values := rcv.snapshot(); !slices.Equal(values, []float64{0, 1, 2, 3}) {
		t.Errorf("delivered %v, want [0 1 2 3] from memory and disk in order", values)
	}
}

func TestStorageLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Buffer.StoragePath = dir
	w, _ := startWriter(t, cfg, accept())
	defer closeWriter(t, w)
	cfg.Name = "second"
	_, err := New(cfg, nil, nil)
	if !errors.Is(err, ErrStorageInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Writer on the same directory: %v, want an in-use error", err)
	}
}

// TestCheckStorage: the check before a storage_path handover passes for
// a usable directory, also one a running Writer holds (whose lock it must
// leave in place), and names the output and the cause for one that is not.
func TestCheckStorage(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(root, "held")
	cfg := testConfig()
	cfg.Buffer.StoragePath = held
	w, _ := startWriter(t, cfg, accept())
	defer closeWriter(t, w)
	for _, tc := range []struct {
		name, dir, err string
	}{
		{"memory only", "", ""},
		{"created", filepath.Join(root, "new", "rw"), ""},
		{"held by a running Writer", held, ""},
		{"a file in its place", file, "buffer.storage_path: creating buffer directory: mkdir " + file + ": not a directory"},
		{"below a file", filepath.Join(file, "rw"), "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			c.Buffer.StoragePath = tc.dir
			err := c.CheckStorage()
			if tc.err == "" {
				if err != nil {
					t.Fatalf("CheckStorage: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "remote_write "+c.Name+": ") {
				t.Fatalf("CheckStorage = %v, want the output's name and %q", err, tc.err)
			}
		})
	}
	cfg.Name = "second"
	if _, err := New(cfg, nil, nil); !errors.Is(err, ErrStorageInUse) {
		t.Fatalf("after CheckStorage, a second Writer on the held directory: %v, want it still locked", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	at := time.UnixMilli(1764190800123)
	rec := encodeRecord(at, 581, []byte("body"))
	gotT, n, body, err := decodeRecord(rec)
	if err != nil || !gotT.Equal(at) || n != 581 || string(body) != "body" {
		t.Fatalf("decodeRecord = %v %d %q %v", gotT, n, body, err)
	}
	for i := range rec {
		bad := bytes.Clone(rec)
		bad[i] ^= 0x40
		if _, _, _, err := decodeRecord(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("flipping byte %d went unnoticed", i)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(time.UnixMilli(1), 1, []byte("x")))
	f.Add(encodeRecord(time.UnixMilli(1764190800123), 0, nil))
	f.Add([]byte("HPRW"))
	f.Fuzz(func(t *testing.T, b []byte) {
		at, n, body, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error not marked corrupt: %v", err)
			}
			return
		}
		if !bytes.Equal(encodeRecord(at, n, body), b) {
			t.Fatal("accepted record does not re-encode to itself")
		}
	})
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
