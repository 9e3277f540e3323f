package procs

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "scrape_test_value", Help: "A value."})
	g.Set(42)
	reg.MustRegister(g)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("this is { not an exposition\n"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fams, err := Scrape(t.Context(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mf := fams["scrape_test_value"]
	if mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() != 42 {
		t.Fatalf("scrape_test_value = %v, want one gauge at 42", mf)
	}

	for _, tc := range []struct{ path, want string }{
		{"/missing", "404 Not Found"},
		{"/garbage", "parsing the exposition"},
	} {
		_, err := Scrape(t.Context(), srv.URL+tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Scrape(%s) error = %v, want one line containing %q", tc.path, err, tc.want)
		}
	}
}
