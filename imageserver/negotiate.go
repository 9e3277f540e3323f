package imageserver

import (
	"net/http"
	"path"
	"strings"

	"github.com/munnerz/goautoneg"

	"github.com/hostpush/hostpush/imageserver/params"
)

// IgnoredHeader names, in each response, the imgix parameters (and
// values) of the request that this server does not implement.
const IgnoredHeader = "X-Imageserver-Ignored-Params"

// reportIgnored names the ignored imgix parameters in the response header
// and counts them by canonical name.
func (s *Server) reportIgnored(w http.ResponseWriter, ignored []params.Ignored) {
	if len(ignored) == 0 {
		return
	}
	shown := make([]string, len(ignored))
	for i, ig := range ignored {
		shown[i] = ig.Shown
		s.m.ignored.WithLabelValues(ig.Param).Inc()
	}
	w.Header().Set(IgnoredHeader, strings.Join(shown, ", "))
}

// negotiate picks the output format: fm wins; else auto=format picks AVIF
// (when the operator allows it) or WebP for clients whose Accept names
// them with a quality above 0 (and the response varies by Accept); else
// the source's format as its file extension says.
func negotiate(o params.Options, name, accept string, avif bool) (params.Format, bool) {
	if o.Format != "" {
		return o.Format, false
	}
	if o.AutoFormat {
		switch {
		case avif && accepts(accept, "avif"):
			return params.FormatAVIF, true
		case accepts(accept, "webp"):
			return params.FormatWebP, true
		}
		return sourceFormat(name), true
	}
	return sourceFormat(name), false
}

// accepts reports whether the Accept header names image/<sub> explicitly
// with q > 0. Wildcards do not count: browsers send image/* and */* also
// when they cannot decode WebP or AVIF, so, as imgix, only a named type
// selects one.
func accepts(accept, sub string) bool {
	found := false
	for _, a := range goautoneg.ParseAccept(strings.ToLower(accept)) {
		if a.Type == "image" && a.SubType == sub {
			if a.Q <= 0 {
				return false // refused explicitly, whatever else it says
			}
			found = true
		}
	}
	return found
}

// sourceFormat is the output format for a source when none is asked
// for: its own where it is a web format, PNG for GIF (to keep
// transparency), JPEG for the rest (TIFF, HEIC).
func sourceFormat(name string) params.Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".gif":
		return params.FormatPNG
	case ".webp":
		return params.FormatWebP
	case ".avif":
		return params.FormatAVIF
	}
	return params.FormatJPEG
}
