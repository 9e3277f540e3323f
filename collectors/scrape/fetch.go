package scrape

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"
)

// MaxBodyBytes bounds what one target may send per fetch, so a runaway
// exporter cannot grow hostpush's memory.
const MaxBodyBytes = 32 << 20

// acceptHeader asks for delimited protobuf first (cheapest to parse) and
// takes the text format otherwise, as Prometheus does.
const acceptHeader = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1`

// fetch gets and decodes one target's metrics, reading at most maxBody
// bytes of its response.
func fetch(ctx context.Context, client *http.Client, url string, timeout time.Duration, maxBody int64) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "hostpush")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("scraping %s: status %s", url, resp.Status)
	}
	body := &limitedReader{r: resp.Body, n: maxBody, limit: maxBody}
	fams, err := Decode(body, expfmt.ResponseFormat(resp.Header))
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	return fams, nil
}

// Decode reads a whole exposition in the given format (unknown formats are
// read as text, as Prometheus does). A family that appears twice is an
// error: the exposition is broken and the gateway would refuse it.
func Decode(r io.Reader, format expfmt.Format) ([]*dto.MetricFamily, error) {
	var dec expfmt.Decoder
	if format.FormatType() == expfmt.TypeProtoDelim {
		dec = newProtoDecoder(r, format)
	} else {
		dec = expfmt.NewDecoder(r, format)
	}
	var fams []*dto.MetricFamily
	seen := map[string]bool{}
	for {
		mf := &dto.MetricFamily{}
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return fams, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing %s exposition: %w", formatName(format), err)
		}
		if seen[mf.GetName()] {
			return nil, fmt.Errorf("parsing %s exposition: metric family %q appears twice", formatName(format), mf.GetName())
		}
		seen[mf.GetName()] = true
		fams = append(fams, mf)
	}
}

// protoDecoder reads delimited protobuf like expfmt's decoder but with a
// bound on each message: expfmt's allocates whatever the length prefix
// claims (found by FuzzDecodeSanitize: 11 bytes claiming 1.7 TB crash the
// process before the body limit can apply).
type protoDecoder struct {
	r      *bufio.Reader
	scheme model.ValidationScheme
}

func newProtoDecoder(r io.Reader, format expfmt.Format) *protoDecoder {
	scheme := model.LegacyValidation
	if format.ToEscapingScheme() == model.NoEscaping {
		scheme = model.UTF8Validation
	}
	return &protoDecoder{r: bufio.NewReader(r), scheme: scheme}
}

func (d *protoDecoder) Decode(mf *dto.MetricFamily) error {
	if err := (protodelim.UnmarshalOptions{MaxSize: MaxBodyBytes}).UnmarshalFrom(d.r, mf); err != nil {
		return err
	}
	if !d.scheme.IsValidMetricName(mf.GetName()) {
		return fmt.Errorf("invalid metric name %q", mf.GetName())
	}
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			if !d.scheme.IsValidLabelName(lp.GetName()) {
				return fmt.Errorf("%s: invalid label name %q", mf.GetName(), lp.GetName())
			}
			if !model.LabelValue(lp.GetValue()).IsValid() {
				return fmt.Errorf("%s: invalid label value %q", mf.GetName(), lp.GetValue())
			}
		}
	}
	return nil
}

func formatName(f expfmt.Format) string {
	if f.FormatType() == expfmt.TypeProtoDelim {
		return "protobuf"
	}
	return "text"
}

// limitedReader fails (rather than truncating silently like
// io.LimitReader) once more than n bytes were read.
type limitedReader struct {
	r        io.Reader
	n, limit int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, l.tooLarge()
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, l.tooLarge()
	}
	return n, err
}

func (l *limitedReader) tooLarge() error {
	return fmt.Errorf("response larger than %d bytes", l.limit)
}
