package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    cpuTimes
		wantErr string
	}{
		{
			name: "plain",
			in:   "4242 (node_exporter) S 1 4242 4242 0 -1 4194560 1915 0 0 0 123 45 6 7 20 0 8 0 100 1000 2000",
			want: cpuTimes{Self: 1680 * time.Millisecond, Children: 130 * time.Millisecond},
		},
		{
			name: "command with spaces and parentheses",
			in:   "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5",
			want: cpuTimes{Self: 30 * time.Millisecond, Children: 70 * time.Millisecond},
		},
		{name: "no command", in: "7 R 1 2 3", wantErr: "no ')'"},
		{name: "too short", in: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1 2", wantErr: "want at least 15"},
		{name: "not a number", in: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 3 4 20", wantErr: `field 14 is "x"`},
		{name: "negative", in: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1 -2 3 4 20", wantErr: `field 15 is "-2"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReadCPUOfSelf reads this test's own /proc entry: the format of the
// running kernel, not only the fixtures above.
func TestReadCPUOfSelf(t *testing.T) {
	before, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	after, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.Self < before.Self {
		t.Errorf("CPU time went backwards: %v then %v", before.Self, after.Self)
	}
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.HWM <= 0 || m.RssAnon <= 0 || m.RssFile <= 0 || m.RssAnon+m.RssFile > m.HWM*2 {
		t.Errorf("implausible memory of the test process: %+v", m)
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nRssAnon:\t 1000 kB\nRssFile:\t 24 kB\nThreads: 5\n"
	tests := []struct {
		name    string
		in      string
		keys    []string
		want    []int64
		wantErr string
	}{
		{name: "all", in: status, keys: []string{"VmHWM", "RssAnon", "RssFile"}, want: []int64{2048, 1000, 24}},
		{name: "order of keys", in: status, keys: []string{"RssFile", "VmHWM"}, want: []int64{24, 2048}},
		{name: "missing", in: status, keys: []string{"VmHWM", "VmSwap"}, wantErr: "no VmSwap line"},
		{name: "no unit", in: "VmHWM: 12\n", keys: []string{"VmHWM"}, wantErr: `want "VmHWM: <n> kB"`},
		{name: "bad number", in: "VmHWM: 1x kB\n", keys: []string{"VmHWM"}, wantErr: `VmHWM value "1x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusKB(strings.NewReader(tc.in), tc.keys...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (node_exporter) S 1 4242 4242 0 -1 4194560 1915 0 0 0 123 45 6 7 20 0 8 0 100"))
	f.Add([]byte("7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 3 4 20"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStat(b)
		if err == nil && (got.Self < 0 || got.Children < 0) {
			t.Errorf("negative times without an error: %+v", got)
		}
	})
}

func FuzzParseStatusKB(f *testing.F) {
	f.Add("VmHWM:\t 2048 kB\nRssAnon: 1 kB\nRssFile: 2 kB\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseStatusKB(strings.NewReader(s), "VmHWM", "RssAnon", "RssFile")
		if err == nil {
			for _, v := range got {
				if v < 0 {
					t.Errorf("negative value without an error: %v", got)
				}
			}
		}
	})
}
