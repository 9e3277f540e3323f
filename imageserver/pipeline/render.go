package pipeline

import (
	"fmt"

	"github.com/davidbyttow/govips/v2/vips"
)

// render computes the graph built so far (decode, crop, resize, rotate,
// colour) into memory. Without it, every later operation that reads
// overlapping regions (blur kernels, the upscale of a shrunk blur) pulls
// them through the lazy graph again and recomputes the resize, which made a
// large blur cost seconds. govips has no copy-to-memory call, so the pixels
// make a round trip through an uncompressed TIFF in memory (a few ms for a
// megapixel).
func (p *Pipeline) render(s *state) error {
	out, err := materialize(s.img)
	if err != nil {
		return vipsErr(err)
	}
	s.img.Close()
	s.img = out
	return nil
}

// materialize returns a copy of img computed into memory.
func materialize(img *vips.ImageRef) (*vips.ImageRef, error) {
	buf, _, err := img.ExportTiff(&vips.TiffExportParams{Compression: vips.TiffCompressionNone, Predictor: vips.TiffPredictorNone, TileWidth: 256, TileHeight: 256})
	if err != nil {
		return nil, fmt.Errorf("rendering to memory: %w", err)
	}
	out, err := vips.LoadImageFromBuffer(buf, vips.NewImportParams())
	if err != nil {
		return nil, fmt.Errorf("reading rendered image: %w", err)
	}
	return out, nil
}
