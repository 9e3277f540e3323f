package main

import (
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// targeter cycles through the URLs; with bust set, request i is made
// distinct from every other (see bustQuery). It is safe for vegeta's
// concurrent workers.
type targeter struct {
	urls []*url.URL
	bust bool
	n    atomic.Uint64
}

func newTargeter(base string, urls []string, bust bool) (*targeter, error) {
	t := &targeter{bust: bust}
	for _, u := range urls {
		r, err := resolve(base, u)
		if err != nil {
			return nil, err
		}
		t.urls = append(t.urls, r)
	}
	return t, nil
}

func (t *targeter) target(tgt *vegeta.Target) error {
	i := t.n.Add(1) - 1
	u := *t.urls[i%uint64(len(t.urls))]
	if t.bust {
		u.RawQuery = bustQuery(u.Query(), i).Encode()
	}
	tgt.Method = http.MethodGet
	tgt.URL = u.String()
	tgt.Header = http.Header{"Accept": {"image/jpeg,*/*"}}
	return nil
}

// bustQuery makes request i distinct for any cache keyed by URL (a cb=i
// parameter) and for a server that normalizes away unknown parameters, as
// imgix and our image server do: w and h (when set in pixels) shrink by
// 0-31 px each and q steps down from its value, giving 25,600 distinct
// transforms of nearly the same cost before they repeat (3,000 are needed
// for the seed scenario). Without w and h only q varies (25 values).
func bustQuery(q url.Values, i uint64) url.Values {
	q.Set("cb", strconv.FormatUint(i, 10))
	step := i % 25
	if dim(q, "w") || dim(q, "h") {
		shrink(q, "w", i%32)
		shrink(q, "h", (i/32)%32)
		step = (i / 1024) % 25
	}
	qual := 75
	if v, err := strconv.Atoi(q.Get("q")); err == nil && v > 25 {
		qual = v
	}
	q.Set("q", strconv.Itoa(qual-int(step)))
	return q
}

// dim reports whether key is a pixel dimension big enough to shrink.
func dim(q url.Values, key string) bool {
	v, err := strconv.Atoi(q.Get(key))
	return err == nil && v > 64
}

func shrink(q url.Values, key string, by uint64) {
	if dim(q, key) {
		v, _ := strconv.Atoi(q.Get(key))
		q.Set(key, strconv.Itoa(v-int(by)))
	}
}
