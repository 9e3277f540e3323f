package pipeline

// #cgo pkg-config: vips
// #include <stdlib.h>
// #include <vips/vips.h>
//
// // avif_save encodes w x h pixels of bands uchar bands (sRGB, alpha
// // last) as AVIF at quality q with libvips' lowest effort.
// static int avif_save(void *pix, size_t n, int w, int h, int bands, int q, void **buf, size_t *len) {
//   VipsImage *in = vips_image_new_from_memory(pix, n, w, h, bands, VIPS_FORMAT_UCHAR);
//   if (!in) return -1;
//   in->Type = VIPS_INTERPRETATION_sRGB;
//   int code = vips_heifsave_buffer(in, buf, len,
//     "compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "Q", q, "effort", 0,
//     "bitdepth", 8, "strip", TRUE, NULL);
//   g_object_unref(in);
//   return code;
// }
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/davidbyttow/govips/v2/vips"
)

// encodeAVIF encodes img as AVIF at effort 0, which libheif's AV1 encoder
// (libaom) runs at its fastest speed, 9. govips cannot ask for it: it
// treats effort 0 as unset and libvips then uses its default of 4 (speed
// 5); its deprecated Speed field is passed as effort, so "speed 8" there
// means libaom speed 1, the 7.9 s per 1024x1024 once measured here.
// Measured on the 12 MP photo cut to 1024x1024 (q 60, the encode alone):
// effort 0 costs 40-55 ms of CPU for 91 KB, effort 1 (speed 8) 110 ms for
// 115 KB, the default effort 4 about 2 s; the whole seed transform as AVIF
// 118 ms against 90 ms as JPEG. The pixels go through memory because govips
// does not expose its image pointer; the copy costs about 1 ms per MP.
func encodeAVIF(img *vips.ImageRef, q int) ([]byte, error) {
	if img.BandFormat() != vips.BandFormatUchar {
		if err := img.Cast(vips.BandFormatUchar); err != nil {
			return nil, err
		}
	}
	pix, err := img.ToBytes()
	if err != nil {
		return nil, fmt.Errorf("rendering for AVIF: %w", err)
	}
	w, h, bands := img.Width(), img.Height(), img.Bands()
	if len(pix) != w*h*bands || bands < 1 {
		return nil, fmt.Errorf("rendering for AVIF: %d bytes for %dx%d with %d bands", len(pix), w, h, bands)
	}
	var out unsafe.Pointer
	var n C.size_t
	// pix stays Go memory: libvips reads it during the call only (the
	// image is unreferenced before avif_save returns; no operation cache)
	if C.avif_save(unsafe.Pointer(&pix[0]), C.size_t(len(pix)), C.int(w), C.int(h), C.int(bands), C.int(q), &out, &n) != 0 {
		return nil, errors.New("avif save: " + vipsError())
	}
	defer C.g_free(C.gpointer(out))
	return C.GoBytes(out, C.int(n)), nil
}

// vipsError takes libvips' error buffer.
func vipsError() string {
	s := C.GoString(C.vips_error_buffer())
	C.vips_error_clear()
	return s
}
