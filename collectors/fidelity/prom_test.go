package fidelity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// promClient queries one Prometheus server's HTTP API.
type promClient struct{ base string }

// series is one element of an instant-query vector result.
type series struct {
	Metric map[string]string `json:"metric"`
}

// query runs an instant query at time at and returns the series of the
// vector result (or one pseudo-series for a scalar result).
func (c promClient) query(ctx context.Context, q string, at time.Time) ([]series, error) {
	form := url.Values{"query": {q}, "time": {fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %q: decoding the answer (%s): %w", q, resp.Status, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, r.Error)
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
		var out []series
		if err := json.Unmarshal(r.Data.Result, &out); err != nil {
			return nil, fmt.Errorf("query %q: %w", q, err)
		}
		return out, nil
	case "scalar":
		return []series{{}}, nil
	}
	return nil, fmt.Errorf("query %q: unexpected result type %q", q, r.Data.ResultType)
}
